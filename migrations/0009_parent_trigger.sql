-- A run can be started by another DAG's step (dag.enqueue): trigger 'parent'. SQLite can't
-- change a CHECK constraint in place, so the table is rebuilt with its rows and indexes.
CREATE TABLE dag_runs_v9 (
  dag_id       TEXT NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
  run_id       TEXT NOT NULL,
  -- Dagu's numbers: 0 not_started, 1 running, 2 failed, 3 aborted, 4 succeeded, 5 queued, 6 partially_succeeded.
  status       INTEGER NOT NULL CHECK (status BETWEEN 0 AND 6),
  params       TEXT NOT NULL DEFAULT '',
  trigger      TEXT NOT NULL CHECK (trigger IN ('manual', 'api', 'webhook', 'schedule', 'retry', 'parent')),
  triggered_by TEXT NOT NULL DEFAULT '',
  queued_at    TEXT,
  started_at   TEXT,
  finished_at  TEXT,
  updated_at   TEXT NOT NULL,
  PRIMARY KEY (dag_id, run_id)
);
INSERT INTO dag_runs_v9 (dag_id, run_id, status, params, trigger, triggered_by, queued_at, started_at, finished_at, updated_at)
  SELECT dag_id, run_id, status, params, trigger, triggered_by, queued_at, started_at, finished_at, updated_at FROM dag_runs;
DROP TABLE dag_runs;
ALTER TABLE dag_runs_v9 RENAME TO dag_runs;
CREATE INDEX dag_runs_by_time ON dag_runs (queued_at DESC);
CREATE INDEX dag_runs_by_dag_time ON dag_runs (dag_id, queued_at DESC);
CREATE INDEX dag_runs_by_status ON dag_runs (status, queued_at DESC);
