-- One row per billed period: the primary key (subscription_id, period_no)
-- is what makes a period billable once. The row is claimed (status Pending)
-- in the transaction that leases the subscription, before the payment engine
-- is asked; idem_key, the engine's idempotency key, is derived from the
-- subscription, the period and the attempt, so a runner that dies and
-- another that takes over drive the same payment. The columns from amount
-- to email are the attempt's command, repeated as it was.
CREATE TABLE IF NOT EXISTS subscription_charges (
    subscription_id  TEXT NOT NULL REFERENCES subscriptions (id),
    period_no        INT8 NOT NULL,
    merchant_id      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('Pending', 'Paid', 'Declined', 'Abandoned')),
    attempt          INT8 NOT NULL CHECK (attempt > 0),
    idem_key         TEXT NOT NULL,
    payment_id       TEXT NOT NULL DEFAULT '',
    reason_code      INT8 NOT NULL DEFAULT 0,
    due_at           TIMESTAMPTZ NOT NULL,
    amount           INT8 NOT NULL CHECK (amount > 0),
    currency         TEXT NOT NULL,
    two_stage        BOOL NOT NULL,
    token_id         TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL DEFAULT '',
    first_attempt_at TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subscription_id, period_no)
)
