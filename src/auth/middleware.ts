import type { Context, MiddlewareHandler } from "hono";
import { touchApiKey } from "../db/api-keys.ts";
import { findUserById, toUser } from "../db/users.ts";
import { type Role, roleAtLeast } from "../domain/roles.ts";
import { API_KEY_PREFIX, WEBHOOK_TOKEN_PREFIX } from "../domain/secrets.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { verifyApiKey } from "./credentials.ts";
import { readSession, signingKey } from "./jwt.ts";
import { ANONYMOUS, type Principal } from "./principal.ts";

const LAST_USED_RESOLUTION_MS = 60_000;
/** When this isolate last recorded each key's use: most requests then skip the D1 write entirely. */
const lastTouched = new Map<string, number>();

export type AuthMode = "builtin" | "none";

export function authMode(env: Cloudflare.Env): AuthMode {
  const mode = env.AUTH_MODE || "builtin";
  if (mode === "builtin" || mode === "none") return mode;
  throw new ApiError("service_unavailable", `AUTH_MODE must be 'builtin' or 'none', not '${mode}'`);
}

const unauthorized = (message: string) => new ApiError("unauthorized", message);

/**
 * Resolves who is calling. A session token is checked against the current user row on every
 * request, so a deleted or demoted user loses access at once, and a password change ends old sessions.
 */
export async function authenticate(c: Context<AppEnv>): Promise<Principal> {
  if (authMode(c.env) === "none") return ANONYMOUS;

  const header = c.req.header("Authorization");
  if (!header) throw unauthorized("authentication required: send 'Authorization: Bearer <token or API key>'");
  const [scheme, credential] = header.split(/\s+/, 2);
  if (scheme?.toLowerCase() !== "bearer" || !credential) {
    throw unauthorized("unsupported authorization scheme: use 'Bearer <token or API key>'");
  }

  if (credential.startsWith(API_KEY_PREFIX) && !credential.startsWith(WEBHOOK_TOKEN_PREFIX)) {
    const key = await verifyApiKey(c.env.DB, credential);
    if (!key) throw unauthorized("invalid API key");
    recordUse(c, key.id);
    return { kind: "api-key", id: key.id, role: key.role, name: key.name, createdAt: key.created_at, updatedAt: key.updated_at };
  }

  const session = await readSession(signingKey(c.env), credential);
  const user = session && (await findUserById(c.env.DB, session.userId));
  if (!session || !user || user.token_version !== session.tokenVersion) {
    throw unauthorized("invalid or expired token");
  }
  return { kind: "user", id: user.id, role: user.role, user: toUser(user) };
}

function recordUse(c: Context<AppEnv>, keyId: string): void {
  const at = Date.now();
  if (at - (lastTouched.get(keyId) ?? 0) < LAST_USED_RESOLUTION_MS) return;
  if (lastTouched.size >= 10_000) lastTouched.clear();
  lastTouched.set(keyId, at);
  // Other isolates may have recorded a use meanwhile; the query keeps the same resolution across them.
  c.executionCtx.waitUntil(touchApiKey(c.env.DB, keyId, new Date(at).toISOString(), LAST_USED_RESOLUTION_MS));
}

/** Authenticates the caller and requires at least `role`; every non-public route declares one. */
export function requireRole(role: Role): MiddlewareHandler<AppEnv> {
  return async function requireRoleMiddleware(c, next) {
    const principal = await authenticate(c);
    if (!roleAtLeast(principal.role, role)) {
      throw new ApiError("forbidden", `this action requires the ${role} role (you have ${principal.role})`);
    }
    c.set("principal", principal);
    await next();
  };
}
