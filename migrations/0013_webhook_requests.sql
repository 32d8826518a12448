-- The inbound log: every trigger attempt against an existing DAG (accepted, refused, rate-limited),
-- with its headers (credentials redacted) and a bounded body (credential fields redacted; none
-- when the DAG sets `webhook.storeBodies: false`). Keyed by the DAG's id: it follows renames and
-- goes with the DAG. Retention (count per DAG and age) is enforced by the cron tick.
CREATE TABLE webhook_requests (
  id             TEXT PRIMARY KEY,
  dag_id         TEXT NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
  received_at    TEXT NOT NULL,
  client_ip      TEXT NOT NULL DEFAULT '',
  method         TEXT NOT NULL,
  outcome        TEXT NOT NULL CHECK (outcome IN ('accepted', 'refused', 'rate_limited', 'failed')),
  status_code    INTEGER NOT NULL,
  error_code     TEXT,
  message        TEXT NOT NULL DEFAULT '',
  run_id         TEXT,
  -- A JSON object of lower-cased names to values, credentials as "[redacted]".
  headers        TEXT NOT NULL DEFAULT '{}',
  content_type   TEXT NOT NULL DEFAULT '',
  -- NULL: not stored (the DAG opts out, or the body was never read); else at most the bound.
  body           TEXT,
  body_bytes     INTEGER NOT NULL DEFAULT 0,
  body_truncated INTEGER NOT NULL DEFAULT 0 CHECK (body_truncated IN (0, 1)),
  -- A replay's row names the request it replayed (no foreign key: that row may be pruned first).
  replay_of      TEXT,
  replayed_by    TEXT
);
CREATE INDEX webhook_requests_by_dag_time ON webhook_requests (dag_id, received_at DESC, id DESC);
CREATE INDEX webhook_requests_by_time ON webhook_requests (received_at);
