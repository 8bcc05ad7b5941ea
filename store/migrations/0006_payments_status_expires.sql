-- The expiry worker and the resolver scan by status and deadline.
CREATE INDEX IF NOT EXISTS payments_status_expires ON payments (status, expires_at)
