-- One subscription per merchant and idempotency key of Create.
CREATE UNIQUE INDEX IF NOT EXISTS subscriptions_idempotency ON subscriptions (merchant_id, idempotency_key) WHERE idempotency_key <> ''
