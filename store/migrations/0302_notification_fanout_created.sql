-- Finds the newest fanned-out row: the fan-out scans the outbox from a little
-- before it.
CREATE INDEX IF NOT EXISTS notification_fanout_created ON notification_fanout (created_at)
