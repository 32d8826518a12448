/** Webhooks in D1: one per DAG, keyed by the DAG's id so it follows renames and dies with the DAG. */
import type { SignatureScheme } from "../auth/webhook-signatures.ts";
import { type WebhookOptions, WebhookOptionsColumn } from "./dags.ts";
import { parseJsonColumn, StringList } from "./json.ts";

export type WebhookRow = {
  id: string;
  dag_id: string;
  token_prefix: string;
  token_hash: string;
  token_digest: string;
  enabled: number;
  created_by: string;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
  auth_mode: WebhookAuthMode;
  signature_scheme: SignatureScheme | null;
  /** Encrypted (src/auth/encryption.ts): it must be used to verify, so it can't be hashed. */
  signature_secret: string | null;
  signature_updated_at: string | null;
  /** Dagu 2.x's X-Dagu-Signature HMAC: NULL is Dagu's token_only. */
  hmac_mode: DaguHmacMode | null;
  hmac_enforcement: HmacEnforcement | null;
  /** Encrypted, like signature_secret. */
  hmac_secret: string | null;
  hmac_updated_at: string | null;
  /** JSON list of canonical CIDRs; `[]` admits every address. */
  allowed_ips: string;
  /** Moves with every change a trigger depends on, this row's or its DAG's (migrations/0018). */
  version: number;
};

export type DaguHmacMode = "token_and_hmac" | "hmac_only";
export type HmacEnforcement = "strict" | "observe";

export type WebhookAuthMode = "token" | "token_or_signature" | "signature";

/** A webhook with its DAG's current name (and, for triggers, the DAG's spec). */
export type WebhookWithDag = WebhookRow & { dag_name: string };
export type TriggerTarget = WebhookWithDag & { spec: string; webhook_options: WebhookOptions };

export type TokenFields = { prefix: string; hash: string; digest: string };

const SELECT = "SELECT w.*, d.name AS dag_name FROM webhooks w JOIN dags d ON d.id = w.dag_id";

export async function listWebhooks(db: D1Database): Promise<WebhookWithDag[]> {
  const { results } = await db.prepare(`${SELECT} ORDER BY lower(d.name), d.name`).all<WebhookWithDag>();
  return results;
}

export function findWebhookOfDag(db: D1Database, dagName: string): Promise<WebhookWithDag | null> {
  return db.prepare(`${SELECT} WHERE d.name = ?1`).bind(dagName).first<WebhookWithDag>();
}

/**
 * Everything a trigger needs in one read: the webhook, the DAG's id, name and spec. From the
 * primary (`db`), or from a session that may read a replica (src/webhooks/trigger-targets.ts).
 */
export async function findTriggerTarget(
  db: D1Database | D1DatabaseSession,
  dagName: string,
): Promise<TriggerTarget | null> {
  const row = await db
    .prepare(
      "SELECT w.*, d.name AS dag_name, d.spec AS spec, d.webhook_options AS webhook_options FROM webhooks w JOIN dags d ON d.id = w.dag_id WHERE d.name = ?1",
    )
    .bind(dagName)
    .first<WebhookWithDag & { spec: string; webhook_options: string }>();
  return (
    row && {
      ...row,
      webhook_options: parseJsonColumn(WebhookOptionsColumn, row.webhook_options, "dags.webhook_options"),
    }
  );
}

/** A webhook at the version a trigger was decided on. */
export type TriggerVersion = { webhookId: string; version: number };

/**
 * The version of the DAG's webhook now, `undefined` when it is gone (on the primary: the
 * coordinator asks `db` without a session); a trigger decided on another version is stale.
 */
export async function webhookVersion(db: D1Database, dagId: string, webhookId: string): Promise<number | undefined> {
  const row = await db
    .prepare("SELECT version FROM webhooks WHERE id = ?1 AND dag_id = ?2")
    .bind(webhookId, dagId)
    .first<{ version: number }>();
  return row?.version;
}

/** Creates the DAG's webhook unless it has one; `null` when the DAG is unknown or already has one. */
export async function insertWebhook(
  db: D1Database,
  dagName: string,
  token: TokenFields,
  createdBy: string,
  at: string,
): Promise<WebhookWithDag | null> {
  const { meta } = await db
    .prepare(
      `INSERT INTO webhooks (id, dag_id, token_prefix, token_hash, token_digest, created_by, created_at, updated_at)
       SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?7 FROM dags WHERE name = ?2
       ON CONFLICT (dag_id) DO NOTHING`,
    )
    .bind(crypto.randomUUID(), dagName, token.prefix, token.hash, token.digest, createdBy, at)
    .run();
  return meta.changes > 0 ? findWebhookOfDag(db, dagName) : null;
}

/** Replaces the token: the old one stops matching the stored digest and hash at once. */
export async function replaceToken(db: D1Database, webhookId: string, token: TokenFields, at: string): Promise<void> {
  await db
    .prepare("UPDATE webhooks SET token_prefix = ?2, token_hash = ?3, token_digest = ?4, updated_at = ?5 WHERE id = ?1")
    .bind(webhookId, token.prefix, token.hash, token.digest, at)
    .run();
}

/** Re-keys a digest made under an earlier JWT_SECRET, for the same token (no change visible to users). */
export async function renewDigest(db: D1Database, webhookId: string, previous: string, digest: string): Promise<void> {
  await db
    .prepare("UPDATE webhooks SET token_digest = ?3 WHERE id = ?1 AND token_digest = ?2")
    .bind(webhookId, previous, digest)
    .run();
}

export async function setWebhookEnabled(
  db: D1Database,
  webhookId: string,
  enabled: boolean,
  at: string,
): Promise<void> {
  await db
    .prepare("UPDATE webhooks SET enabled = ?2, updated_at = ?3 WHERE id = ?1")
    .bind(webhookId, enabled ? 1 : 0, at)
    .run();
}

export async function deleteWebhook(db: D1Database, webhookId: string): Promise<void> {
  await db.prepare("DELETE FROM webhooks WHERE id = ?1").bind(webhookId).run();
}

/** Sets (or replaces) the signature scheme and its encrypted secret, and the auth mode. */
export async function setSignature(
  db: D1Database,
  webhookId: string,
  scheme: SignatureScheme,
  encryptedSecret: string,
  mode: WebhookAuthMode,
  at: string,
): Promise<void> {
  await db
    .prepare(
      "UPDATE webhooks SET signature_scheme = ?2, signature_secret = ?3, auth_mode = ?4, signature_updated_at = ?5, updated_at = ?5 WHERE id = ?1",
    )
    .bind(webhookId, scheme, encryptedSecret, mode, at)
    .run();
}

/** Back to the Bearer token only. */
export async function clearSignature(db: D1Database, webhookId: string, at: string): Promise<void> {
  await db
    .prepare(
      "UPDATE webhooks SET signature_scheme = NULL, signature_secret = NULL, auth_mode = 'token', signature_updated_at = NULL, updated_at = ?2 WHERE id = ?1",
    )
    .bind(webhookId, at)
    .run();
}

/** The webhook's IP allowlist (canonical CIDRs). */
export function allowedIpsOf(row: WebhookRow): string[] {
  return parseJsonColumn(StringList, row.allowed_ips, "webhooks.allowed_ips");
}

/** Dagu 2.x's HMAC: its mode, enforcement and (encrypted) secret; a new secret renews hmac_updated_at. */
export async function setHmac(
  db: D1Database,
  webhookId: string,
  hmac: { mode: DaguHmacMode; enforcement: HmacEnforcement; encryptedSecret?: string },
  at: string,
): Promise<void> {
  await db
    .prepare(
      `UPDATE webhooks SET hmac_mode = ?2, hmac_enforcement = ?3, hmac_secret = coalesce(?4, hmac_secret),
       hmac_updated_at = CASE WHEN ?4 IS NULL THEN hmac_updated_at ELSE ?5 END, updated_at = ?5 WHERE id = ?1`,
    )
    .bind(webhookId, hmac.mode, hmac.enforcement, hmac.encryptedSecret ?? null, at)
    .run();
}

/** Back to Dagu's token_only: the HMAC secret is forgotten. */
export async function clearHmac(db: D1Database, webhookId: string, at: string): Promise<void> {
  await db
    .prepare(
      "UPDATE webhooks SET hmac_mode = NULL, hmac_enforcement = NULL, hmac_secret = NULL, hmac_updated_at = NULL, updated_at = ?2 WHERE id = ?1",
    )
    .bind(webhookId, at)
    .run();
}

export async function setAllowedIps(db: D1Database, webhookId: string, cidrs: string[], at: string): Promise<void> {
  await db
    .prepare("UPDATE webhooks SET allowed_ips = ?2, updated_at = ?3 WHERE id = ?1")
    .bind(webhookId, JSON.stringify(cidrs), at)
    .run();
}
