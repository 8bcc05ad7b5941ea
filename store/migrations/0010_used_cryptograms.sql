-- Each cryptogram opens once: its digest is recorded with the payment it paid.
CREATE TABLE IF NOT EXISTS used_cryptograms (
    digest      BYTEA PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    payment_id  TEXT NOT NULL,
    used_at     TIMESTAMPTZ NOT NULL
)
