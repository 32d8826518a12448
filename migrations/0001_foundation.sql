-- Foundation: users, API keys and the DAG registry.
-- Timestamps are RFC 3339 UTC strings (what the API returns), so they sort as text.

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'operator', 'viewer')),
  -- Bumped on every password change or reset; a JWT carries the version it was issued for,
  -- so old sessions end when the password changes.
  token_version INTEGER NOT NULL DEFAULT 1,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  description  TEXT NOT NULL DEFAULT '',
  role         TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'operator', 'viewer')),
  -- First 12 characters of the key: finds the candidate row without a scan, shown in the UI.
  key_prefix   TEXT NOT NULL,
  key_hash     TEXT NOT NULL,
  created_by   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  last_used_at TEXT
);
CREATE INDEX api_keys_by_prefix ON api_keys (key_prefix);

CREATE TABLE dags (
  name        TEXT PRIMARY KEY,
  spec        TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  -- JSON arrays derived from the spec when it is stored, so lists and filters need no YAML parse.
  tags        TEXT NOT NULL DEFAULT '[]',
  schedules   TEXT NOT NULL DEFAULT '[]',
  suspended   INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1)),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
