CREATE UNIQUE INDEX IF NOT EXISTS tokens_account_card ON tokens (merchant_id, account_id, fingerprint)
