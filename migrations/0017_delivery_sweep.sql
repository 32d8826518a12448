-- A pending delivery's next attempt waits in a queue message (a delayed one for a retry), and a
-- message can be lost: the local queue lives in memory, and production can lose or hold one too.
-- The row says when its next attempt is due, so the every-minute tick can find the deliveries
-- whose message is overdue and queue them again (src/queues/alerts.ts, resendOverdueDeliveries).
-- NULL once the delivery has ended (delivered or failed).
ALTER TABLE alert_deliveries ADD COLUMN next_attempt_at TEXT;
-- The attempt count its retry schedule counts from: 0, or the count when it was last replayed
-- (a replay starts a fresh schedule). The tick's message carries it, as the lost one did.
ALTER TABLE alert_deliveries ADD COLUMN retry_from INTEGER NOT NULL DEFAULT 0;
-- The sweep reads only pending rows, by due time: a handful, however long the log grows.
CREATE INDEX alert_deliveries_next_attempt ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
-- Pending before this version: when the last attempt was scheduled is all that is known. One
-- waiting for a long retry may be tried early, once; its schedule then goes on from there.
UPDATE alert_deliveries SET next_attempt_at = updated_at WHERE status = 'pending';
