-- Schedule ticks that failed to start a run (a spec whose params no longer resolve, an
-- unreachable coordinator, ...): kept for people and for the alerts (TICK_FAILURE).
CREATE TABLE tick_failures (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  dag_id        TEXT NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
  -- The scheduled minute (RFC 3339) the run was for.
  scheduled_for TEXT NOT NULL,
  error         TEXT NOT NULL,
  recorded_at   TEXT NOT NULL
);
CREATE INDEX tick_failures_by_dag ON tick_failures (dag_id, scheduled_for DESC);
