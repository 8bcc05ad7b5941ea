CREATE INDEX IF NOT EXISTS payments_merchant_created ON payments (merchant_id, created_at DESC, id DESC)
