-- Find by account (CloudPayments' /subscriptions/find).
CREATE INDEX IF NOT EXISTS subscriptions_account ON subscriptions (merchant_id, account_id)
