import type { Context, MiddlewareHandler } from "hono";
import { type AuthMode, config, usable } from "../config.ts";
import { findUserById } from "../db/users.ts";
import { type Role, roleAtLeast } from "../domain/roles.ts";
import { API_KEY_PREFIX, WEBHOOK_TOKEN_PREFIX } from "../domain/secrets.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { userView } from "../routes/views/user.ts";
import { verifyBasic } from "./basic-auth.ts";
import { verifyApiKey } from "./credentials.ts";
import { readSession, signingKey } from "./jwt.ts";
import { recordUse } from "./last-used.ts";
import { ANONYMOUS, type Principal } from "./principal.ts";

const KEY_LAST_USED_RESOLUTION_MS = 60_000;

export type { AuthMode } from "../config.ts";

export function authMode(env: Cloudflare.Env): AuthMode {
  return usable(config(env).authMode);
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
  if (scheme?.toLowerCase() === "basic" && credential) {
    const user = await verifyBasic(c.env, c.req.header("CF-Connecting-IP") ?? "unknown", credential);
    return { kind: "user", id: user.id, role: user.role, user: userView(user) };
  }
  if (scheme?.toLowerCase() !== "bearer" || !credential) {
    throw unauthorized(
      "unsupported authorization scheme: use 'Bearer <token or API key>' or 'Basic <username:password>'",
    );
  }

  if (credential.startsWith(API_KEY_PREFIX) && !credential.startsWith(WEBHOOK_TOKEN_PREFIX)) {
    const key = await verifyApiKey(c.env.DB, credential);
    if (!key) throw unauthorized("invalid API key");
    recordUse(c, "api_keys", key.id, KEY_LAST_USED_RESOLUTION_MS);
    return {
      kind: "api-key",
      id: key.id,
      role: key.role,
      name: key.name,
      createdAt: key.created_at,
      updatedAt: key.updated_at,
    };
  }

  const session = await readSession(signingKey(c.env), credential);
  const user = session && (await findUserById(c.env.DB, session.userId));
  if (!session || !user || user.token_version !== session.tokenVersion) {
    throw unauthorized("invalid or expired token");
  }
  return { kind: "user", id: user.id, role: user.role, user: userView(user) };
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

/** 401 unless builtin auth is on: the webhook features need it (Dagu: "Webhooks require Builtin Authentication"). */
export const requireBuiltinAuth: MiddlewareHandler<AppEnv> = async function requireBuiltinAuth(c, next) {
  if (authMode(c.env) !== "builtin") throw unauthorized("webhooks require builtin authentication (AUTH_MODE=builtin)");
  await next();
};
