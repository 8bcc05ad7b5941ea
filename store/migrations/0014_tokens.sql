-- Saved cards. The PAN is encrypted with a per-token data key (AES-256-GCM)
-- which is itself wrapped by the master key; the CVV is never stored. The
-- fingerprint (an HMAC of the PAN under a key derived from the master key)
-- finds the same card of the same account without decrypting anything.
CREATE TABLE IF NOT EXISTS tokens (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL REFERENCES merchants (id),
    account_id     TEXT NOT NULL,
    fingerprint    BYTEA NOT NULL,
    pan_sealed     BYTEA NOT NULL,
    key_wrapped    BYTEA NOT NULL,
    card_first_six TEXT NOT NULL,
    card_last_four TEXT NOT NULL,
    card_brand     TEXT NOT NULL,
    card_exp_month INT8 NOT NULL,
    card_exp_year  INT8 NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    deleted_at     TIMESTAMPTZ NULL
)
