-- Dagu 2.x's own webhook HMAC (X-Dagu-Signature: sha256=<hex>) beside the signed-sender schemes
-- of 0007, and a per-webhook IP allowlist. Columns are added rather than widening 0007's CHECKs:
-- rebuilding `webhooks` would cascade into the tables that reference it.
--
-- hmac_mode NULL is Dagu's token_only. The secret is used to verify, so it is stored encrypted
-- (AES-GCM, src/auth/encryption.ts), never hashed and never returned after it is generated.
ALTER TABLE webhooks ADD COLUMN hmac_mode TEXT CHECK (hmac_mode IN ('token_and_hmac', 'hmac_only'));
ALTER TABLE webhooks ADD COLUMN hmac_enforcement TEXT CHECK (hmac_enforcement IN ('strict', 'observe'));
ALTER TABLE webhooks ADD COLUMN hmac_secret TEXT;
ALTER TABLE webhooks ADD COLUMN hmac_updated_at TEXT;

-- CIDRs (IPv4 and IPv6) a trigger's CF-Connecting-IP must be in; '[]' admits every address.
ALTER TABLE webhooks ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '[]';
