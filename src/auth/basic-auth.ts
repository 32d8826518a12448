/**
 * HTTP Basic authentication (Dagu's `basicAuth` scheme): a dagflare user's username and password
 * on any request that takes a bearer token, so a Dagu client configured for basic auth works.
 *
 * A password is checked with bcrypt once per isolate, then remembered by digest bound to the
 * user's stored hash (a password change or reset applies on the next request). Failures count
 * against a per-client limit, like failed webhook attempts: over it, 429 with Retry-After and no
 * bcrypt at all until the block ends.
 */
import { findUserByUsername, type UserRow } from "../db/users.ts";
import { ApiError } from "../errors.ts";
import { compareHash, DUMMY_PASSWORD_HASH, type HashCompare } from "./passwords.ts";
import { VerifiedSecrets } from "./verified-secrets.ts";

export const BASIC_AUTH_BLOCK_SECONDS = 60;

const verifiedPasswords = new VerifiedSecrets();
/** Clients over the failure limit, until when (ms); a bounded map, oldest first out. */
const blockedClients = new Map<string, number>();

const unauthorized = (message: string) => new ApiError("unauthorized", message);

function tooManyFailures(): ApiError {
  return new ApiError(
    "too_many_requests",
    `too many failed sign-ins from this client; try again in ${BASIC_AUTH_BLOCK_SECONDS} s`,
    undefined,
    { "Retry-After": String(BASIC_AUTH_BLOCK_SECONDS) },
  );
}

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
  const until = blockedClients.get(client);
  if (until !== undefined) {
    if (until > Date.now()) throw tooManyFailures();
    blockedClients.delete(client);
  }
  const decoded = decodeBasic(credential);
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
  const { success } = await env.BASIC_AUTH_FAILURES.limit({ key: client });
  if (!success) {
    if (blockedClients.size >= 10_000) blockedClients.delete(blockedClients.keys().next().value!);
    blockedClients.set(client, Date.now() + BASIC_AUTH_BLOCK_SECONDS * 1000);
    throw tooManyFailures();
  }
  throw unauthorized(
    decoded ? "invalid username or password" : "malformed Basic credential: send base64 of username:password",
  );
}
