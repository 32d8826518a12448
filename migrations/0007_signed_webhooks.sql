-- Signed senders (GitHub, Slack, Standard Webhooks) next to or instead of the Bearer token.
-- The signing secret must be used to verify, so it is stored encrypted (AES-GCM), not hashed.
ALTER TABLE webhooks ADD COLUMN auth_mode TEXT NOT NULL DEFAULT 'token'
  CHECK (auth_mode IN ('token', 'token_or_signature', 'signature'));
ALTER TABLE webhooks ADD COLUMN signature_scheme TEXT CHECK (signature_scheme IN ('github', 'slack', 'standard'));
ALTER TABLE webhooks ADD COLUMN signature_secret TEXT;
ALTER TABLE webhooks ADD COLUMN signature_updated_at TEXT;

-- A DAG's `webhook:` settings (forwardHeaders, runIdHeader), derived from its spec when stored,
-- so a trigger needs no YAML parse.
ALTER TABLE dags ADD COLUMN webhook_options TEXT NOT NULL DEFAULT '{}';
