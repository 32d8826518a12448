import { z } from "@hono/zod-openapi";
import { verifyLogin } from "../auth/credentials.ts";
import { signInFailures, signInKeys } from "../auth/failure-limit.ts";
import { issueSession, signingKey } from "../auth/jwt.ts";
import { authMode } from "../auth/middleware.ts";
import { compareHash, hashSecret } from "../auth/passwords.ts";
import { principalAsUser } from "../auth/principal.ts";
import { now } from "../db/time.ts";
import { findUserById, setPassword } from "../db/users.ts";
import { ApiError } from "../errors.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse, publicRoute, roleRoute } from "./router.ts";
import { PasswordSchema, SuccessSchema, Timestamp, UserResponseSchema, UserSchema } from "./schemas.ts";
import { userView } from "./views/user.ts";

const login = publicRoute({
  method: "post",
  path: "/auth/login",
  tags: ["auth"],
  summary: "Sign in with username and password; returns a JWT valid for 24 hours",
  request: {
    body: jsonBody(z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) })),
  },
  responses: {
    200: jsonResponse("Signed in", z.object({ token: z.string(), expiresAt: Timestamp, user: UserSchema })),
    401: errorResponse("Invalid credentials"),
    429: errorResponse(
      "Too many failed logins from this client or for this username (10 a minute); Retry-After says when to try again",
    ),
    503: errorResponse("Builtin auth is not configured (JWT_SECRET)"),
  },
});

/**
 * What the admin UI must know before anyone signs in: whether there is a sign-in at all. Asking
 * `/auth/me` without a session would answer 401 to every visitor of the login page.
 */
const authConfig = publicRoute({
  method: "get",
  path: "/auth/config",
  tags: ["auth"],
  summary: "Whether this deployment has sign-in (`builtin`) or none (`none`); public (dagflare extension)",
  responses: {
    200: jsonResponse(
      "The deployment's authentication mode",
      z.object({ authMode: z.enum(["builtin", "none"]) }).openapi("AuthConfig"),
    ),
    503: errorResponse("AUTH_MODE is misconfigured"),
  },
});

const me = roleRoute("viewer", {
  method: "get",
  path: "/auth/me",
  tags: ["auth"],
  summary: "The caller: a user, an API key (as a user with its role) or the anonymous admin of AUTH_MODE=none",
  responses: { 200: jsonResponse("The current user", UserResponseSchema) },
});

const changePassword = roleRoute("viewer", {
  method: "post",
  path: "/auth/change-password",
  tags: ["auth"],
  summary: "Change your own password; every session of yours ends, this one included",
  request: { body: jsonBody(z.strictObject({ currentPassword: z.string().min(1), newPassword: PasswordSchema })) },
  responses: {
    200: jsonResponse("Password changed", SuccessSchema),
    401: errorResponse("Not authenticated or wrong current password"),
  },
});

/**
 * Failed logins, per client IP and per username (across IPs, so spreading guesses over addresses
 * doesn't help). A blocked key is refused before bcrypt, whatever the password: a password can't
 * be guessed at bcrypt speed, and a flood of bad logins can't spend the Worker's CPU. The price:
 * someone failing on purpose keeps that username's logins refused while they go on (sessions and
 * API keys still work).
 */

export const authRoutes = createRouter()
  .openapi(login, async (c) => {
    if (authMode(c.env) === "none") throw new ApiError("bad_request", "AUTH_MODE is none: the API needs no login");
    const key = signingKey(c.env);
    const { username, password } = c.req.valid("json");
    const keys = signInKeys(c.req.header("CF-Connecting-IP") ?? "unknown", username);
    signInFailures.refuseIfBlocked(...keys);
    const user = await verifyLogin(c.env.DB, username, password);
    if (!user) {
      await signInFailures.recordFailure(c.env.LOGIN_FAILURES, ...keys);
      throw new ApiError("unauthorized", "invalid username or password");
    }
    const session = await issueSession(key, { userId: user.id, tokenVersion: user.token_version });
    return c.json({ ...session, user: userView(user) }, 200);
  })
  .openapi(authConfig, (c) => c.json({ authMode: authMode(c.env) }, 200))
  .openapi(me, (c) => c.json({ user: principalAsUser(c.get("principal")) }, 200))
  .openapi(changePassword, async (c) => {
    const principal = c.get("principal");
    if (principal.kind !== "user") throw new ApiError("bad_request", "only a signed-in user has a password to change");
    const { currentPassword, newPassword } = c.req.valid("json");
    const user = await findUserById(c.env.DB, principal.id);
    if (!user || !(await compareHash(currentPassword, user.password_hash))) {
      throw new ApiError("unauthorized", "current password is wrong");
    }
    await setPassword(c.env.DB, user.id, await hashSecret(newPassword), now());
    return c.json({ message: "password changed" }, 200);
  });
