-- One webhook per DAG: a DAG-specific trigger token. The token itself is never stored: a bcrypt
-- hash (as Dagu does) and a keyed digest (HMAC-SHA256 under a key derived from JWT_SECRET) that
-- lets a trigger be checked without bcrypt. The webhook follows its DAG's id, so a rename keeps
-- it and a delete removes it.
CREATE TABLE webhooks (
  id            TEXT PRIMARY KEY,
  dag_id        TEXT NOT NULL UNIQUE REFERENCES dags (id) ON DELETE CASCADE,
  -- First 12 characters of the token, shown in lists; a presented token must start with it.
  token_prefix  TEXT NOT NULL,
  token_hash    TEXT NOT NULL,
  -- '<key id>:<hex HMAC>'; the key id tells whether the digest was made with the current key.
  token_digest  TEXT NOT NULL,
  enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_by    TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  last_used_at  TEXT
);
