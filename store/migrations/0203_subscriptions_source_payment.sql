-- A payment that asked for a recurrent plan starts at most one subscription.
CREATE UNIQUE INDEX IF NOT EXISTS subscriptions_source_payment ON subscriptions (merchant_id, source_payment_id) WHERE source_payment_id <> ''
