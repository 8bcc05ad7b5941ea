CREATE INDEX IF NOT EXISTS refunds_payment ON refunds (payment_id, created_at)
