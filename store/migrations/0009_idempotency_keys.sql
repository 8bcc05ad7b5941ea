-- Idempotency keys: the first request's hash, the payment it acted on and,
-- once it finished, its answer.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    idem_key     TEXT NOT NULL,
    operation    TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    payment_id   TEXT NOT NULL DEFAULT '',
    response     BYTEA NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, idem_key)
)
