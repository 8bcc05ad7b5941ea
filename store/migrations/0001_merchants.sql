-- Merchants: the API secret is kept wrapped by the master key (it signs
-- notifications, so it must be recoverable); auth compares in constant time.
CREATE TABLE IF NOT EXISTS merchants (
    id                TEXT PRIMARY KEY,
    public_id         TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    secret_wrapped    BYTEA NOT NULL,
    test_mode         BOOL NOT NULL DEFAULT true,
    auto_capture_days INT8 NULL CHECK (auto_capture_days BETWEEN 1 AND 7),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
)
