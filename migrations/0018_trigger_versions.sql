-- A version per webhook that moves with every change a trigger depends on: the webhook's
-- credentials and settings, and its DAG's name, spec and webhook options. A Worker may decide a
-- trigger on a copy of the row it remembers or read from a D1 read replica; the DAG's coordinator
-- starts the run only if the primary still has that version (src/webhooks/trigger-targets.ts),
-- so regenerate, disable, delete and a new spec act at once.
--
-- Triggers, not application code, move it: every writer (the API, `npm run dags:push`, a hand-run
-- `wrangler d1 execute`) bumps it alike. Only the columns a trigger reads count: lastUsedAt,
-- written after triggers, must not make every remembered copy stale. A new column a trigger
-- reads belongs in these lists. The WHEN clause keeps the inner UPDATE from firing the trigger
-- again, whatever recursive_triggers says.
ALTER TABLE webhooks ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER webhooks_version
AFTER UPDATE OF dag_id, token_prefix, token_hash, token_digest, enabled, auth_mode, signature_scheme,
  signature_secret, hmac_mode, hmac_enforcement, hmac_secret, allowed_ips ON webhooks
WHEN NEW.version = OLD.version
BEGIN
  UPDATE webhooks SET version = OLD.version + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER dags_webhook_version AFTER UPDATE OF id, name, spec, webhook_options ON dags
BEGIN
  UPDATE webhooks SET version = version + 1 WHERE dag_id = NEW.id;
END;
