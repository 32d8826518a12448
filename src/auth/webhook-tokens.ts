/**
 * Checking webhook tokens fast and safely. A trigger must not cost a bcrypt (Dagu pays ~200 ms
 * per request), and wrong tokens must not cost anything worth attacking:
 *
 * - Each webhook stores, besides the bcrypt hash, an HMAC-SHA256 of its token under a key
 *   derived from JWT_SECRET. A trigger computes one HMAC and compares in constant time; for a
 *   256-bit random token this is as strong as bcrypt, and it survives isolate restarts.
 * - The digest records which key made it. After JWT_SECRET is rotated, a token is checked once
 *   with bcrypt and its digest renewed; no one has to regenerate a token.
 * - A token whose first 12 characters aren't the stored prefix is refused before any crypto.
 * - Failed attempts are counted per client and DAG with the Rate Limiting binding; a client
 *   over the limit gets 429 before any token work. A wrong token seen again within a minute is
 *   refused from memory, without reading D1.
 */
import type { TriggerTarget } from "../db/webhooks.ts";
import { toHex } from "../domain/bytes.ts";
import { displayPrefix, WEBHOOK_TOKEN_PREFIX } from "../domain/secrets.ts";
import { FailureLimit } from "./failure-limit.ts";
import { signingKey } from "./jwt.ts";
import { compareHash, type HashCompare } from "./passwords.ts";

const DIGEST_CONTEXT = "dagflare webhook token digest v1";
const FAILURE_MEMORY_MS = 60_000;

type DigestKey = { id: string; key: CryptoKey };
let cachedKey: { secret: string; key: Promise<DigestKey> } | undefined;

const encoder = new TextEncoder();
const hmacKey = (raw: BufferSource) =>
  crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);

/** The digest key for the current JWT_SECRET (a separate key: the JWT secret itself never signs tokens). */
function digestKey(env: Cloudflare.Env): Promise<DigestKey> {
  const secret = signingKey(env);
  const text = new TextDecoder().decode(secret);
  if (cachedKey?.secret !== text) {
    const derive = async (): Promise<DigestKey> => {
      const derived = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(DIGEST_CONTEXT));
      const key = await hmacKey(derived);
      return { key, id: toHex(await crypto.subtle.sign("HMAC", key, encoder.encode("key id"))).slice(0, 16) };
    };
    cachedKey = { secret: text, key: derive() };
  }
  return cachedKey.key;
}

/** `<key id>:<hex HMAC>` of a token: what D1 stores, and what a trigger compares. */
export async function tokenDigest(env: Cloudflare.Env, token: string): Promise<string> {
  const { id, key } = await digestKey(env);
  return `${id}:${toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(token)))}`;
}

/** Constant-time equality of two digests. */
function sameDigest(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  return left.byteLength === right.byteLength && crypto.subtle.timingSafeEqual(left, right);
}

export type TokenCheck = { valid: false } | { valid: true; renewedDigest?: string };

/** Whether `token` is this webhook's token; `renewedDigest` when its stored digest needs re-keying. */
export async function checkToken(
  webhook: Pick<TriggerTarget, "token_prefix" | "token_hash" | "token_digest">,
  token: string,
  digest: string,
  compare: HashCompare = compareHash,
): Promise<TokenCheck> {
  if (displayPrefix(token) !== webhook.token_prefix) return { valid: false };
  const keyId = digest.slice(0, digest.indexOf(":"));
  if (webhook.token_digest.startsWith(`${keyId}:`)) return { valid: sameDigest(digest, webhook.token_digest) };
  // Made under an earlier JWT_SECRET: bcrypt decides this once.
  return (await compare(token, webhook.token_hash)) ? { valid: true, renewedDigest: digest } : { valid: false };
}

/** The token of an `Authorization: Bearer dagu_wh_…` header, or `undefined` when it is missing or malformed. */
export function bearerWebhookToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  const token = match?.[1];
  return token?.startsWith(WEBHOOK_TOKEN_PREFIX) ? token : undefined;
}

/** Wrong tokens per DAG recently refused by this isolate, by digest, with when they expire. */
const recentFailures = new Map<string, number>();
/** Failed attempts per client (IP and DAG). */
const failures = new FailureLimit("failed webhook attempts from this client");

function remembered(map: Map<string, number>, key: string): boolean {
  const until = map.get(key);
  if (until === undefined) return false;
  if (until > Date.now()) return true;
  map.delete(key);
  return false;
}

function remember(map: Map<string, number>, key: string, untilMs: number): void {
  if (map.size >= 10_000) map.delete(map.keys().next().value!);
  map.set(key, untilMs);
}

/** 429 for a client that is over the failure limit; checked before any token work. */
export function refuseIfBlocked(client: string): void {
  failures.refuseIfBlocked(client);
}

export const isRecentFailure = (dagName: string, digest: string) => remembered(recentFailures, `${dagName}\n${digest}`);

/**
 * Counts a failed attempt against the client's budget (only failures count) and remembers the
 * wrong token; throws 429 once the client is over the limit.
 */
export async function recordFailure(
  env: Cloudflare.Env,
  client: string,
  dagName: string,
  digest: string | undefined,
): Promise<void> {
  if (digest) remember(recentFailures, `${dagName}\n${digest}`, Date.now() + FAILURE_MEMORY_MS);
  await failures.recordFailure(env.WEBHOOK_FAILURES, client);
}
