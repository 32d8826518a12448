-- The step duration histogram of GET /metrics (dagflare_step_duration_seconds{dag}): counters per
-- DAG that only grow, so a scrape reads a few rows per DAG instead of every run's steps (D1 has
-- no step data). Labelled by DAG, not by step: a step label would multiply each DAG's series by
-- its steps (up to 1,000), and step names change with every edit of a DAG.
--
-- A coordinator adds a run's steps in the same batch that writes the run's final D1 copy, and
-- only when dag_runs doesn't show that finish yet (src/db/step-durations.ts): a finish is
-- counted once, however often its copy is written.

-- Steps per bucket, not cumulative (GET /metrics sums them up to each bound). `le` is the
-- bucket's upper bound in seconds; a step longer than the last bound is only in the totals.
CREATE TABLE step_duration_buckets (
  dag_id TEXT NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
  le     REAL NOT NULL,
  steps  INTEGER NOT NULL CHECK (steps >= 0),
  PRIMARY KEY (dag_id, le)
) WITHOUT ROWID;

-- Every step counted, and their seconds: the histogram's _count (its +Inf bucket) and _sum.
CREATE TABLE step_duration_totals (
  dag_id  TEXT PRIMARY KEY REFERENCES dags (id) ON DELETE CASCADE,
  steps   INTEGER NOT NULL CHECK (steps >= 0),
  seconds REAL NOT NULL CHECK (seconds >= 0)
);
