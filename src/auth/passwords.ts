import bcrypt from "bcryptjs";

/** Cost 10 is ~55 ms of CPU in workerd: acceptable once per login, never per request. */
export const BCRYPT_COST = 10;
export const MIN_PASSWORD_LENGTH = 8;
/** bcrypt ignores everything after 72 bytes; longer passwords are refused rather than truncated. */
export const MAX_PASSWORD_BYTES = 72;

/**
 * A bcrypt hash (cost 10) of a random string nobody knows. Comparing against it when a username
 * doesn't exist makes "unknown user" cost the same time as "wrong password".
 */
export const DUMMY_PASSWORD_HASH = "$2b$10$zVVrV/b4/DvER3GANNYyAecxiTXSDfZiEcekcyUK1ZslZhHjiH.nS";

export type HashCompare = (secret: string, hash: string) => Promise<boolean>;

export const compareHash: HashCompare = (secret, hash) => bcrypt.compare(secret, hash);

export function hashSecret(secret: string): Promise<string> {
  return bcrypt.hash(secret, BCRYPT_COST);
}
