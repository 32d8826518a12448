/**
 * HTTP Basic authentication (Dagu's `basicAuth` scheme): a dagflare user's username and password
 * on any request that takes a bearer token, so a Dagu client configured for basic auth works.
 *
 * A password is checked with bcrypt once per isolate, then remembered by digest bound to the
 * user's stored hash (a password change or reset applies on the next request). Failures count
 * against the same budgets as failed logins (per client IP and per username): over one, 429 with
 * Retry-After and no bcrypt at all until the block ends.
 */
import { findUserByUsername, type UserRow } from "../db/users.ts";
import { ApiError } from "../errors.ts";
import { signInFailures, signInKeys } from "./failure-limit.ts";
import { compareHash, DUMMY_PASSWORD_HASH, type HashCompare } from "./passwords.ts";
import { VerifiedSecrets } from "./verified-secrets.ts";

const verifiedPasswords = new VerifiedSecrets();

const unauthorized = (message: string) => new ApiError("unauthorized", message);

/** `username:password` from a Basic credential, or undefined when it isn't one. */
export function decodeBasic(credential: string): { username: string; password: string } | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
      Uint8Array.from(atob(credential), (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The user a Basic credential names, or a 401 (429 once the client is over its failure limit). */
export async function verifyBasic(
  env: Cloudflare.Env,
  client: string,
  credential: string,
  compare: HashCompare = compareHash,
): Promise<UserRow> {
  const decoded = decodeBasic(credential);
  const keys = signInKeys(client, decoded?.username ?? "");
  signInFailures.refuseIfBlocked(...keys);
  const user = decoded && decoded.username.length <= 64 ? await findUserByUsername(env.DB, decoded.username) : null;
  // An unknown user still costs a bcrypt compare, so timing doesn't tell which part was wrong.
  const matches =
    decoded !== undefined &&
    decoded.password.length <= 1024 &&
    (await verifiedPasswords.verify(
      `${user?.id ?? ""}\n${decoded.password}`,
      user?.password_hash ?? DUMMY_PASSWORD_HASH,
      (secret, hash) => compare(secret.slice(secret.indexOf("\n") + 1), hash),
    ));
  if (user && matches) return user;
  await signInFailures.recordFailure(env.LOGIN_FAILURES, ...keys);
  throw unauthorized(
    decoded ? "invalid username or password" : "malformed Basic credential: send base64 of username:password",
  );
}
