-- The workers' queue: pending deliveries by the time they are due.
CREATE INDEX IF NOT EXISTS notification_deliveries_due ON notification_deliveries (status, next_attempt_at)
