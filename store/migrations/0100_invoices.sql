-- Invoices: an amount a merchant asks a payer to pay on altyn's hosted page.
-- status follows Cascad's names (SPEC.md §4); attempt_key is the idempotency
-- key of the payment attempt under way while status is 'processing', and
-- payment_id the latest attempt's payment. idempotency_key/request_hash make
-- CreateInvoice idempotent.
CREATE TABLE IF NOT EXISTS invoices (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    status          TEXT NOT NULL CHECK (status IN ('created', 'processing', 'processed', 'expired', 'cancelled')),
    amount          INT8 NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    invoice_id      TEXT NOT NULL DEFAULT '',
    account_id      TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    two_stage       BOOL NOT NULL,
    success_url     TEXT NOT NULL DEFAULT '',
    fail_url        TEXT NOT NULL DEFAULT '',
    data            JSONB NULL,
    payment_id      TEXT NOT NULL DEFAULT '',
    attempt_key     TEXT NOT NULL DEFAULT '',
    attempt_at      TIMESTAMPTZ NULL,
    idempotency_key TEXT NOT NULL DEFAULT '',
    request_hash    BYTEA NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    paid_at         TIMESTAMPTZ NULL,
    cancelled_at    TIMESTAMPTZ NULL,
    CONSTRAINT invoices_attempt CHECK ((status = 'processing') = (attempt_key <> ''))
)
