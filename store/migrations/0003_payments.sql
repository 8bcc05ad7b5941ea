-- Payments. The CHECK constraints hold the money invariants in the database
-- itself: captured <= authorized <= amount, refunded <= captured.
CREATE TABLE IF NOT EXISTS payments (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    transaction_id  INT8 NOT NULL UNIQUE CHECK (transaction_id > 0 AND transaction_id < 9007199254740992),
    status          TEXT NOT NULL CHECK (status IN ('Pending', 'AwaitingAuthentication', 'Authorized', 'Completed', 'Cancelled', 'Declined')),
    two_stage       BOOL NOT NULL,
    amount          INT8 NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    authorized_amount INT8 NOT NULL DEFAULT 0,
    captured_amount INT8 NOT NULL DEFAULT 0,
    refunded_amount INT8 NOT NULL DEFAULT 0,
    invoice_id      TEXT NOT NULL DEFAULT '',
    account_id      TEXT NOT NULL DEFAULT '',
    description     TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    ip_address      TEXT NOT NULL DEFAULT '',
    cardholder_name TEXT NOT NULL DEFAULT '',
    data            JSONB NULL,
    card_first_six  TEXT NOT NULL DEFAULT '',
    card_last_four  TEXT NOT NULL DEFAULT '',
    card_brand      TEXT NOT NULL DEFAULT '',
    card_exp_month  INT8 NOT NULL DEFAULT 0,
    card_exp_year   INT8 NOT NULL DEFAULT 0,
    auth_code       TEXT NOT NULL DEFAULT '',
    reason_code     INT8 NOT NULL DEFAULT 0,
    reason          TEXT NOT NULL DEFAULT '',
    acs_url         TEXT NOT NULL DEFAULT '',
    pa_req          TEXT NOT NULL DEFAULT '',
    test_mode       BOOL NOT NULL,
    pending_op      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    authorized_at   TIMESTAMPTZ NULL,
    captured_at     TIMESTAMPTZ NULL,
    cancelled_at    TIMESTAMPTZ NULL,
    declined_at     TIMESTAMPTZ NULL,
    expires_at      TIMESTAMPTZ NULL,
    CONSTRAINT payments_money CHECK (
        authorized_amount >= 0 AND authorized_amount <= amount
        AND captured_amount >= 0 AND captured_amount <= authorized_amount
        AND refunded_amount >= 0 AND refunded_amount <= captured_amount)
)
