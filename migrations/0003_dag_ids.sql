-- A DAG gets a stable id. Its coordinator (Durable Object) and its runs are keyed by the id, so
-- renaming a DAG keeps its history, and deleting it takes its runs along (ON DELETE CASCADE).
-- Existing DAGs take their name as id: their coordinators were addressed by name until now.

CREATE TABLE dags_v3 (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  spec        TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  tags        TEXT NOT NULL DEFAULT '[]',
  schedules   TEXT NOT NULL DEFAULT '[]',
  suspended   INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1)),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
INSERT INTO dags_v3 (id, name, spec, description, tags, schedules, suspended, created_at, updated_at)
  SELECT name, name, spec, description, tags, schedules, suspended, created_at, updated_at FROM dags;
DROP TABLE dags;
ALTER TABLE dags_v3 RENAME TO dags;

CREATE TABLE dag_runs_v3 (
  dag_id       TEXT NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
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
  PRIMARY KEY (dag_id, run_id)
);
INSERT INTO dag_runs_v3 (dag_id, run_id, status, params, trigger, triggered_by, queued_at, started_at, finished_at, updated_at)
  SELECT d.id, r.run_id, r.status, r.params, r.trigger, r.triggered_by, r.queued_at, r.started_at, r.finished_at, r.updated_at
  FROM dag_runs r JOIN dags d ON d.name = r.dag_name;
DROP TABLE dag_runs;
ALTER TABLE dag_runs_v3 RENAME TO dag_runs;
CREATE INDEX dag_runs_by_time ON dag_runs (queued_at DESC);
CREATE INDEX dag_runs_by_dag_time ON dag_runs (dag_id, queued_at DESC);
CREATE INDEX dag_runs_by_status ON dag_runs (status, queued_at DESC);
