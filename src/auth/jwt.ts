import { jwtVerify, SignJWT } from "jose";
import { config, usable } from "../config.ts";

export const SESSION_TTL_SECONDS = 24 * 60 * 60;

export type SessionClaims = { userId: string; tokenVersion: number };

/**
 * The signing key, or a 503 that says how to fix the deployment. Production refuses a missing or
 * short secret; a development instance needs one too (`npm run dev` generates it), never a default.
 */
export function signingKey(env: Pick<Cloudflare.Env, "JWT_SECRET" | "ENVIRONMENT">): Uint8Array {
  return new TextEncoder().encode(usable(config(env).jwtSecret));
}

export async function issueSession(
  key: Uint8Array,
  claims: SessionClaims,
): Promise<{ token: string; expiresAt: string }> {
  const issuedAt = Math.floor(Date.now() / 1000);
  const expiresAt = issuedAt + SESSION_TTL_SECONDS;
  const token = await new SignJWT({ ver: claims.tokenVersion })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.userId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .setIssuer("dagflare")
    .sign(key);
  return { token, expiresAt: new Date(expiresAt * 1000).toISOString() };
}

/** The claims of a valid, unexpired session token, or `null`. */
export async function readSession(key: Uint8Array, token: string): Promise<SessionClaims | null> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ["HS256"], issuer: "dagflare" });
    if (typeof payload.sub !== "string" || typeof payload.ver !== "number") return null;
    return { userId: payload.sub, tokenVersion: payload.ver };
  } catch {
    return null;
  }
}
