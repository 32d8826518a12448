import { type ApiKeyRow, findApiKeysByPrefix } from "../db/api-keys.ts";
import { findUserByUsername, type UserRow } from "../db/users.ts";
import { displayPrefix } from "../domain/secrets.ts";
import { compareHash, DUMMY_PASSWORD_HASH, type HashCompare } from "./passwords.ts";
import { VerifiedSecrets } from "./verified-secrets.ts";

/**
 * The user whose password this is, or `null`. An unknown username still pays one bcrypt compare
 * (against a dummy hash), so the two failures are indistinguishable by timing.
 */
export async function verifyLogin(
  db: D1Database,
  username: string,
  password: string,
  compare: HashCompare = compareHash,
): Promise<UserRow | null> {
  const user = await findUserByUsername(db, username);
  const matches = await compare(password, user?.password_hash ?? DUMMY_PASSWORD_HASH);
  return user && matches ? user : null;
}

const verifiedApiKeys = new VerifiedSecrets();

/**
 * The API key row for a presented key, or `null`. The stored prefix finds the candidate rows with
 * one indexed query (never a bcrypt per stored key, as Dagu does); a key already verified by this
 * isolate skips bcrypt entirely.
 */
export async function verifyApiKey(
  db: D1Database,
  key: string,
  compare: HashCompare = compareHash,
): Promise<ApiKeyRow | null> {
  for (const row of await findApiKeysByPrefix(db, displayPrefix(key))) {
    if (await verifiedApiKeys.verify(key, row.key_hash, compare)) return row;
  }
  return null;
}
