import { sha256Hex } from "../domain/secrets.ts";
import type { HashCompare } from "./passwords.ts";

/**
 * Remembers bearer secrets this isolate has already verified with bcrypt, by SHA-256 digest, so a
 * key or token costs one bcrypt per isolate instead of one per request.
 *
 * An entry is bound to the bcrypt hash it was verified against: when the stored hash changes
 * (regenerated) or the row is gone (deleted), the remembered verification no longer matches
 * anything, so revocation takes effect on the very next request.
 */
export class VerifiedSecrets {
  readonly #entries = new Map<string, string>();
  readonly #capacity: number;

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  /** Whether `secret` matches `storedHash`: from memory when already verified, else with `compare`. */
  async verify(secret: string, storedHash: string, compare: HashCompare): Promise<boolean> {
    const digest = await sha256Hex(secret);
    if (this.#entries.get(digest) === storedHash) {
      // Refresh recency: Map iteration order is insertion order, so the oldest entry is evicted first.
      this.#entries.delete(digest);
      this.#entries.set(digest, storedHash);
      return true;
    }
    if (!(await compare(secret, storedHash))) return false;
    this.#entries.set(digest, storedHash);
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
    return true;
  }
}
