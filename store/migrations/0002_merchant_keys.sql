-- Cryptogram key pairs; the private half is wrapped by the master key.
CREATE TABLE IF NOT EXISTS merchant_keys (
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    key_id          TEXT NOT NULL,
    public_key      TEXT NOT NULL,
    private_wrapped BYTEA NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    retired_at      TIMESTAMPTZ NULL,
    PRIMARY KEY (merchant_id, key_id)
)
