/** The wire shape of a DAG's webhook (Dagu's `WebhookDetails`): never the token's hash or digest, nor a signing or HMAC secret. */
import type { SignatureScheme } from "../../auth/webhook-signatures.ts";
import {
  allowedIpsOf,
  type DaguHmacMode,
  type HmacEnforcement,
  type WebhookAuthMode,
  type WebhookWithDag,
} from "../../db/webhooks.ts";

/** Dagu 2.x's `WebhookHMACDetails`: the X-Dagu-Signature HMAC's public settings. */
export type WebhookHmac = {
  enabled: boolean;
  secretConfigured: boolean;
  enforcementMode?: HmacEnforcement;
  algorithm?: "HMAC-SHA256";
  headerName?: "X-Dagu-Signature";
  format?: "sha256=<hex>";
  updatedAt?: string;
};

export type Webhook = {
  id: string;
  dagName: string;
  tokenPrefix: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
  lastUsedAt?: string;
  /** How triggers authenticate: Dagu 2.x's HMAC modes, or dagflare's signed-sender modes. */
  authMode: WebhookAuthMode | DaguHmacMode;
  hmac: WebhookHmac;
  /** dagflare: the signed-sender scheme (never its secret). */
  signature: { scheme: SignatureScheme; updatedAt: string } | null;
  /** dagflare: the CIDRs a trigger's address must be in; empty admits every address. */
  allowedIps: string[];
};

export const webhookView = (row: WebhookWithDag): Webhook => ({
  id: row.id,
  dagName: row.dag_name,
  tokenPrefix: row.token_prefix,
  enabled: row.enabled === 1,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  createdBy: row.created_by,
  ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
  authMode: row.hmac_mode ?? row.auth_mode,
  hmac: row.hmac_mode
    ? {
        enabled: true,
        secretConfigured: row.hmac_secret !== null,
        enforcementMode: row.hmac_enforcement ?? "strict",
        algorithm: "HMAC-SHA256",
        headerName: "X-Dagu-Signature",
        format: "sha256=<hex>",
        ...(row.hmac_updated_at ? { updatedAt: row.hmac_updated_at } : {}),
      }
    : { enabled: false, secretConfigured: false },
  signature: row.signature_scheme
    ? { scheme: row.signature_scheme, updatedAt: row.signature_updated_at ?? row.updated_at }
    : null,
  allowedIps: allowedIpsOf(row),
});
