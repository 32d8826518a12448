-- The queryable copy of every DAG run. Each DAG's coordinator (Durable Object) is the only
-- writer and the source of truth; this table serves lists, filters and the UI.
CREATE TABLE dag_runs (
  dag_name     TEXT NOT NULL,
  run_id       TEXT NOT NULL,
  -- Dagu's numbers: 0 not_started, 1 running, 2 failed, 3 aborted, 4 succeeded, 5 queued, 6 partially_succeeded.
  status       INTEGER NOT NULL CHECK (status BETWEEN 0 AND 6),
  params       TEXT NOT NULL DEFAULT '',
  trigger      TEXT NOT NULL CHECK (trigger IN ('manual', 'api', 'webhook', 'schedule', 'retry')),
  triggered_by TEXT NOT NULL DEFAULT '',
  queued_at    TEXT,
  started_at   TEXT,
  finished_at  TEXT,
  updated_at   TEXT NOT NULL,
  PRIMARY KEY (dag_name, run_id)
);
CREATE INDEX dag_runs_by_time ON dag_runs (queued_at DESC);
CREATE INDEX dag_runs_by_dag_time ON dag_runs (dag_name, queued_at DESC);
CREATE INDEX dag_runs_by_status ON dag_runs (status, queued_at DESC);
