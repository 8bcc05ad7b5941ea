-- One delivery of an outbox row over one channel ('http' or 'email'). While
-- status is 'Pending', next_attempt_at is when the next attempt is due; a
-- worker that leases the row moves next_attempt_at to the end of its lease and
-- sets lease_id, so a crashed worker's rows come due again by themselves.
CREATE TABLE IF NOT EXISTS notification_deliveries (
    outbox_id       TEXT NOT NULL,
    channel         TEXT NOT NULL,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    type            TEXT NOT NULL,
    payment_id      TEXT NOT NULL DEFAULT '',
    target          TEXT NOT NULL,
    method          TEXT NOT NULL DEFAULT '',
    format          TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('Pending', 'Delivered', 'Failed', 'Cancelled')),
    attempts        INT8 NOT NULL DEFAULT 0,
    max_attempts    INT8 NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_id        TEXT NOT NULL DEFAULT '',
    last_status     INT8 NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    last_latency_ms INT8 NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ NULL,
    PRIMARY KEY (outbox_id, channel)
)
