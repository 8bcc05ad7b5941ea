-- The transactional outbox: every notification-worthy change of a payment
-- (Pay, Fail, Confirm, Refund, Cancel, Recurrent) writes a row here in the
-- same transaction as the change. Delivery state lives in the notifier's own
-- tables, keyed by the row's id.
CREATE TABLE IF NOT EXISTS outbox (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    type        TEXT NOT NULL,
    payment_id  TEXT NOT NULL DEFAULT '',
    subject_id  TEXT NOT NULL DEFAULT '',
    payload     JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
)
