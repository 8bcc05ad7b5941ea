-- The deliveries of one payment.
CREATE INDEX IF NOT EXISTS notification_deliveries_payment ON notification_deliveries (merchant_id, payment_id)
