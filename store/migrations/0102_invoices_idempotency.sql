-- One invoice per merchant and idempotency key.
CREATE UNIQUE INDEX IF NOT EXISTS invoices_idempotency ON invoices (merchant_id, idempotency_key) WHERE idempotency_key <> ''
