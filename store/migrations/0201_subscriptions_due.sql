-- The runners' queue: subscriptions with work, by clock and due time.
CREATE INDEX IF NOT EXISTS subscriptions_due ON subscriptions (clock_id, next_at) WHERE next_at IS NOT NULL
