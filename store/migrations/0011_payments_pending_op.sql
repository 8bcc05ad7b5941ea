-- The resolver finds payments whose last acquirer call lost its answer.
CREATE INDEX IF NOT EXISTS payments_pending_op ON payments (pending_op, updated_at)
