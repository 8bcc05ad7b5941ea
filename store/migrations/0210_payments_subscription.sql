-- The subscription that charged this payment, or that this payment started.
ALTER TABLE payments ADD COLUMN IF NOT EXISTS subscription_id TEXT NOT NULL DEFAULT ''
