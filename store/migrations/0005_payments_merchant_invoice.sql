CREATE INDEX IF NOT EXISTS payments_merchant_invoice ON payments (merchant_id, invoice_id, created_at DESC)
