-- The recurrent plan a payment asked for (subscriptions.Plan as JSON):
-- once the payment is approved, a subscription is made of it.
ALTER TABLE payments ADD COLUMN IF NOT EXISTS recurrent JSONB NULL
