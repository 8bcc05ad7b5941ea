-- Subscriptions: recurring charges of a saved card (CloudPayments' model,
-- SPEC.md §1.3). Period n of the schedule falls due at start_at plus
-- (n - period_base) * period intervals, the anchor day of the month kept.
-- period_no is the period being billed, attempt how many attempts it has had
-- and pending_key the engine's idempotency key of the attempt in flight.
-- next_at is set while the runner has work: the next period or retry falls
-- due, or an attempt awaits its outcome; a test clock's subscriptions are
-- due by that clock. lease_until/lease_id keep other runners off a row one
-- of them works on; a dead runner's lease simply runs out.
CREATE TABLE IF NOT EXISTS subscriptions (
    id                   TEXT PRIMARY KEY,
    merchant_id          TEXT NOT NULL REFERENCES merchants (id),
    account_id           TEXT NOT NULL,
    token_id             TEXT NOT NULL,
    card_key             TEXT NOT NULL,
    card_brand           TEXT NOT NULL DEFAULT '',
    description          TEXT NOT NULL DEFAULT '',
    email                TEXT NOT NULL DEFAULT '',
    amount               INT8 NOT NULL CHECK (amount > 0),
    currency             TEXT NOT NULL,
    require_confirmation BOOL NOT NULL,
    interval_unit        TEXT NOT NULL CHECK (interval_unit IN ('Day', 'Week', 'Month')),
    period               INT8 NOT NULL CHECK (period > 0),
    max_periods          INT8 NOT NULL DEFAULT 0 CHECK (max_periods >= 0),
    start_at             TIMESTAMPTZ NOT NULL,
    end_at               TIMESTAMPTZ NULL,
    period_base          INT8 NOT NULL DEFAULT 0,
    status               TEXT NOT NULL CHECK (status IN ('Active', 'PastDue', 'Cancelled', 'Rejected', 'Expired')),
    successful           INT8 NOT NULL DEFAULT 0 CHECK (successful >= 0),
    failed               INT8 NOT NULL DEFAULT 0 CHECK (failed >= 0),
    period_no            INT8 NOT NULL DEFAULT 0,
    attempt              INT8 NOT NULL DEFAULT 0,
    period_started_at    TIMESTAMPTZ NULL,
    pending_key          TEXT NOT NULL DEFAULT '',
    next_at              TIMESTAMPTZ NULL,
    last_at              TIMESTAMPTZ NULL,
    last_reason_code     INT8 NOT NULL DEFAULT 0,
    rule                 TEXT NOT NULL DEFAULT '',
    retry_delay_s        INT8 NOT NULL DEFAULT 0,
    max_failures         INT8 NOT NULL DEFAULT 0,
    clock_id             TEXT NOT NULL DEFAULT '',
    source_payment_id    TEXT NOT NULL DEFAULT '',
    idempotency_key      TEXT NOT NULL DEFAULT '',
    request_hash         BYTEA NULL,
    test_mode            BOOL NOT NULL,
    version              INT8 NOT NULL DEFAULT 1,
    lease_id             TEXT NOT NULL DEFAULT '',
    lease_until          TIMESTAMPTZ NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    cancelled_at         TIMESTAMPTZ NULL,
    CONSTRAINT subscriptions_pending CHECK (pending_key = '' OR next_at IS NOT NULL)
)
