-- Finds approved payments with a plan, to make the subscriptions whose
-- creation after approval failed (the sweep in server/subscriptions).
CREATE INDEX IF NOT EXISTS payments_recurrent ON payments (authorized_at) WHERE recurrent IS NOT NULL
