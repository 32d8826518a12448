-- Alert policies and their deliveries (src/alerts). Header values and signing secrets are stored
-- encrypted (AES-GCM), never in plain text; only header names are readable.
CREATE TABLE alert_policies (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL UNIQUE,
  description    TEXT NOT NULL DEFAULT '',
  enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  event_types    TEXT NOT NULL,              -- JSON array of event types
  dag_names      TEXT NOT NULL DEFAULT '[]', -- JSON: filters, not references (empty = every DAG)
  tags           TEXT NOT NULL DEFAULT '[]',
  options        TEXT NOT NULL DEFAULT '{}',
  url            TEXT NOT NULL,
  header_names   TEXT NOT NULL DEFAULT '[]',
  headers        TEXT,                       -- encrypted JSON object {name: value}
  body           TEXT NOT NULL,              -- the JSON template, as written
  signing_secret TEXT,                       -- encrypted whsec_…
  created_by     TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);

-- What happened, with everything a template may need: queue messages carry only the id.
CREATE TABLE alert_events (
  id         TEXT PRIMARY KEY,
  type       TEXT NOT NULL,
  dag_name   TEXT,
  run_id     TEXT,
  context    TEXT NOT NULL,   -- JSON
  created_at TEXT NOT NULL
);

-- One per (event, policy): the unit that is sent, retried, logged and replayed.
CREATE TABLE alert_deliveries (
  id         TEXT PRIMARY KEY,
  policy_id  TEXT NOT NULL REFERENCES alert_policies (id) ON DELETE CASCADE,
  event_id   TEXT NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
  event_type TEXT NOT NULL,
  dag_name   TEXT,
  run_id     TEXT,
  status     TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts   TEXT NOT NULL DEFAULT '[]', -- JSON [{at, statusCode, durationMs, error?, responseBody?}]
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (event_id, policy_id)
);
CREATE INDEX alert_deliveries_by_policy ON alert_deliveries (policy_id, created_at DESC);

-- Metric policies fire once per crossing: whether each one's metric was last above its threshold.
CREATE TABLE alert_metric_state (
  policy_id  TEXT PRIMARY KEY REFERENCES alert_policies (id) ON DELETE CASCADE,
  above      INTEGER NOT NULL CHECK (above IN (0, 1)),
  changed_at TEXT NOT NULL
);
