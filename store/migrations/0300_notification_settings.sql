-- Merchant notification settings: one row per merchant and notification type
-- (Check, Pay, Fail, Confirm, Refund, Cancel, Recurrent). A row sends an HTTP
-- notification when enabled with a URL, and an e-mail when email is set.
CREATE TABLE IF NOT EXISTS notification_settings (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    type        TEXT NOT NULL,
    enabled     BOOL NOT NULL,
    url         TEXT NOT NULL DEFAULT '',
    method      TEXT NOT NULL DEFAULT 'POST',
    format      TEXT NOT NULL DEFAULT 'altyn',
    email       TEXT NOT NULL DEFAULT '',
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, type)
)
