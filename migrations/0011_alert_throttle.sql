-- A policy's throttle (options.throttle: at most N alerts per window per DAG) holds back the
-- alerts past N. Each held one waits here until its window has closed; the every-minute tick then
-- sends one digest per (policy, DAG, window) with their count and deletes them. The window's end
-- is kept with it, so a digest goes out when its own window closes even if the throttle has
-- changed since.
CREATE TABLE alert_held (
  policy_id    TEXT NOT NULL REFERENCES alert_policies (id) ON DELETE CASCADE,
  event_id     TEXT NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
  dag_name     TEXT,          -- NULL for events about no DAG (the step runner, metrics)
  window_start TEXT NOT NULL,
  window_end   TEXT NOT NULL,
  held_at      TEXT NOT NULL,
  PRIMARY KEY (policy_id, event_id)
);
CREATE INDEX alert_held_by_window_end ON alert_held (window_end);
