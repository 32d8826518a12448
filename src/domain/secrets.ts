import bs58 from "bs58";
import { toHex } from "./bytes.ts";

/**
 * Bearer secrets shown to a user once: `<kind prefix>` + base58 of 32 random bytes.
 * Only a bcrypt hash and the first `DISPLAY_PREFIX_LENGTH` characters are ever stored.
 */
export const API_KEY_PREFIX = "dagu_";
export const WEBHOOK_TOKEN_PREFIX = "dagu_wh_";
export const DISPLAY_PREFIX_LENGTH = 12;

export function generateSecret(kindPrefix: string): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return kindPrefix + bs58.encode(bytes);
}

export function displayPrefix(secret: string): string {
  return secret.slice(0, DISPLAY_PREFIX_LENGTH);
}

/** Hex SHA-256: the fast digest that remembers an already bcrypt-verified secret. */
export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return toHex(digest);
}

/** A random password for the generated first admin: 24 base58 characters (~140 bits). */
export function generatePassword(): string {
  const bytes = new Uint8Array(18);
  crypto.getRandomValues(bytes);
  return bs58.encode(bytes);
}
