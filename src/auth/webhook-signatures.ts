/**
 * Signed webhook senders that can't send a Bearer header: GitHub, Slack and any Standard
 * Webhooks sender. Each signs the raw body with a shared secret; the signature is checked over
 * the exact bytes received, before anything is parsed, in constant time.
 */
import bs58 from "bs58";
import { fromBase64, hmacSha256, toBase64, toHex } from "../domain/bytes.ts";

export const SIGNATURE_SCHEMES = ["github", "slack", "standard"] as const;
export type SignatureScheme = (typeof SIGNATURE_SCHEMES)[number];

/** Slack's and Standard Webhooks' replay window. */
export const TOLERANCE_SECONDS = 5 * 60;

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

const encoder = new TextEncoder();

/** The headers that carry signatures (and Dagu's profile selector, which is signed): never forwarded to a run. */
export const SIGNATURE_HEADERS = [
  "x-hub-signature-256",
  "x-hub-signature",
  "x-slack-signature",
  "x-slack-request-timestamp",
  "webhook-signature",
  "x-dagu-signature",
  "x-dagu-profile",
];

/**
 * Dagu 2.x's own HMAC (internal/service/auth/service.go validateWebhookHMACSignature):
 * `X-Dagu-Signature: sha256=<hex of HMAC-SHA256(secret, raw body)>`, the secret's text as the key,
 * no timestamp; with `X-Dagu-Profile: <p>` the signed bytes are `x-dagu-profile:<p>\n` + body.
 * The hex is compared as bytes, so upper or lower case both match, as in Dagu.
 */
export type DaguSignatureCheck = { ok: true } | { ok: false; reason: "missing" | "invalid" };

export async function verifyDaguSignature(
  secret: string,
  headers: Headers,
  body: Uint8Array,
): Promise<DaguSignatureCheck> {
  const presented = headers.get("x-dagu-signature");
  if (!presented) return { ok: false, reason: "missing" };
  const hex = presented.startsWith("sha256=") ? presented.slice("sha256=".length) : "";
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) return { ok: false, reason: "invalid" };
  const profile = headers.get("x-dagu-profile");
  const signed = profile === null ? body : concat(encoder.encode(`x-dagu-profile:${profile}\n`), body);
  const expected = toHex(await hmacSha256(encoder.encode(secret), signed));
  return equal(hex.toLowerCase(), expected) ? { ok: true } : { ok: false, reason: "invalid" };
}

/** Dagu 2.x's HMAC secret: base58 of 32 random bytes (generateWebhookHMACSecret). */
export function generateDaguHmacSecret(): string {
  return bs58.encode(crypto.getRandomValues(new Uint8Array(32)));
}

export async function verifySignature(
  scheme: SignatureScheme,
  secret: string,
  headers: Headers,
  body: Uint8Array,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<SignatureCheck> {
  switch (scheme) {
    case "github": {
      const presented = headers.get("x-hub-signature-256");
      if (!presented?.startsWith("sha256=")) return { ok: false, reason: "missing X-Hub-Signature-256" };
      const expected = `sha256=${toHex(await hmacSha256(encoder.encode(secret), body))}`;
      return equal(presented, expected) ? { ok: true } : { ok: false, reason: "signature mismatch" };
    }
    case "slack": {
      const presented = headers.get("x-slack-signature");
      const timestamp = headers.get("x-slack-request-timestamp");
      if (!presented?.startsWith("v0=") || !timestamp)
        return { ok: false, reason: "missing X-Slack-Signature or X-Slack-Request-Timestamp" };
      if (!fresh(timestamp, nowSeconds)) return { ok: false, reason: "timestamp outside the 5-minute window" };
      const expected = `v0=${toHex(await hmacSha256(encoder.encode(secret), concat(encoder.encode(`v0:${timestamp}:`), body)))}`;
      return equal(presented, expected) ? { ok: true } : { ok: false, reason: "signature mismatch" };
    }
    case "standard": {
      const id = headers.get("webhook-id");
      const timestamp = headers.get("webhook-timestamp");
      const presented = headers.get("webhook-signature");
      if (!id || !timestamp || !presented)
        return { ok: false, reason: "missing webhook-id, webhook-timestamp or webhook-signature" };
      if (!fresh(timestamp, nowSeconds)) return { ok: false, reason: "timestamp outside the 5-minute window" };
      const expected = await standardWebhookSignature(secret, id, timestamp, body);
      // Several signatures (space-separated) let a sender rotate its secret.
      const any = presented.split(" ").reduce((found, candidate) => equal(candidate, expected) || found, false);
      return any ? { ok: true } : { ok: false, reason: "no matching signature" };
    }
  }
}

/** A new signing secret: hex for GitHub (any string works there), `whsec_` + base64 for Standard Webhooks. */
export function generateSigningSecret(scheme: Exclude<SignatureScheme, "slack">): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return scheme === "standard" ? `whsec_${toBase64(bytes)}` : toHex(bytes);
}

/**
 * Standard Webhooks' signature: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under
 * the base64 part of a `whsec_…` secret. Alerts sign with it, triggers verify with it.
 */
export async function standardWebhookSignature(
  secret: string,
  id: string,
  timestamp: string,
  body: Uint8Array,
): Promise<string> {
  const key = fromBase64(secret.replace(/^whsec_/, ""));
  return `v1,${toBase64(await hmacSha256(key, concat(encoder.encode(`${id}.${timestamp}.`), body)))}`;
}

function fresh(timestamp: string, nowSeconds: number): boolean {
  const seconds = Number(timestamp);
  return Number.isInteger(seconds) && Math.abs(nowSeconds - seconds) <= TOLERANCE_SECONDS;
}

/** Constant-time comparison (for strings of equal length; a length mismatch reveals only the length). */
function equal(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let index = 0; index < left.length; index++) difference |= left[index]! ^ right[index]!;
  return difference === 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
