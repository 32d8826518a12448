/**
 * Secrets that must be used again (alert header values, signing secrets) are stored encrypted:
 * AES-256-GCM under a key derived (HKDF-SHA-256) from the ENCRYPTION_KEY Worker secret, a fresh
 * 96-bit IV per value, stored as `v1.<base64url iv>.<base64url ciphertext>`.
 *
 * Production refuses to encrypt or decrypt without a key of ≥ 32 characters (503 with the fix);
 * a development instance falls back to a fixed key, so `npm run dev` needs no setup and its
 * local state survives restarts.
 */
import { config, usable } from "../config.ts";
import { fromBase64, toBase64 } from "../domain/bytes.ts";

let cached: { secret: string; key: Promise<CryptoKey> } | undefined;

function keyFor(
  env: Pick<Cloudflare.Env, "ENVIRONMENT"> & { ENCRYPTION_KEY?: string | undefined },
): Promise<CryptoKey> {
  const secret = usable(config(env).encryptionKey);
  if (cached?.secret !== secret) {
    const derive = async () => {
      const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, [
        "deriveKey",
      ]);
      return crypto.subtle.deriveKey(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: new Uint8Array(0),
          info: new TextEncoder().encode("dagflare settings v1"),
        },
        material,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    };
    cached = { secret, key: derive() };
  }
  return cached.key;
}

const toBase64Url = (bytes: Uint8Array) => toBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
const fromBase64Url = (text: string) => fromBase64(text.replaceAll("-", "+").replaceAll("_", "/"));

export async function encrypt(env: Cloudflare.Env, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await keyFor(env),
    new TextEncoder().encode(plaintext),
  );
  return `v1.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
}

export async function decrypt(env: Cloudflare.Env, stored: string): Promise<string> {
  const [version, iv, sealed] = stored.split(".");
  if (version !== "v1" || !iv || !sealed) throw new Error("not an encrypted value");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64Url(iv) },
    await keyFor(env),
    fromBase64Url(sealed),
  );
  return new TextDecoder().decode(plain);
}
