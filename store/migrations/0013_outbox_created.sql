CREATE INDEX IF NOT EXISTS outbox_created ON outbox (created_at, id)
