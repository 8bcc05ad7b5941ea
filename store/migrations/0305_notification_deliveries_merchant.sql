-- The delivery log, newest first, per merchant.
CREATE INDEX IF NOT EXISTS notification_deliveries_merchant ON notification_deliveries (merchant_id, created_at, outbox_id, channel)
