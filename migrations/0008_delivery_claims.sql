-- A delivery is claimed before it is sent, so two queue messages for one delivery (a redelivered
-- fan-out, a replay) can't send it twice at the same time.
ALTER TABLE alert_deliveries ADD COLUMN claimed_until TEXT;
