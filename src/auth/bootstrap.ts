import { config } from "../config.ts";
import { now } from "../db/time.ts";
import { hasUsers, insertFirstUser } from "../db/users.ts";
import { hashSecret } from "./passwords.ts";

/**
 * Creates the first admin, but only while no user exists at all: a later restart with other
 * credentials never resets or adds an admin. Returns whether the admin was created.
 * Used by `npm run dev` (before the Worker starts) and by a deployed Worker whose ADMIN_USERNAME
 * and ADMIN_PASSWORD secrets are set.
 */
export async function bootstrapFirstAdmin(db: D1Database, username: string, password: string): Promise<boolean> {
  if (await hasUsers(db)) return false;
  return insertFirstUser(db, {
    id: crypto.randomUUID(),
    username,
    passwordHash: await hashSecret(password),
    role: "admin",
    at: now(),
  });
}

let bootstrapped: Promise<unknown> | undefined;

/** Once per isolate: the first admin from the deployment's secrets, if they are set. */
export function bootstrapFromSecrets(env: Cloudflare.Env): Promise<unknown> {
  const { admin } = config(env);
  if (!admin) return Promise.resolve();
  bootstrapped ??= bootstrapFirstAdmin(env.DB, admin.username, admin.password).catch((error: unknown) => {
    bootstrapped = undefined;
    throw error;
  });
  return bootstrapped;
}
