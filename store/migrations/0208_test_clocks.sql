-- Sandbox test clocks: a merchant in test mode attaches subscriptions to a
-- clock and moves it forward; they fall due by the clock's time.
CREATE TABLE IF NOT EXISTS test_clocks (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    name        TEXT NOT NULL DEFAULT '',
    now         TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
)
