-- Refunds. A refund is Pending from the moment its amount is reserved on the
-- payment until the acquirer confirms it.
CREATE TABLE IF NOT EXISTS refunds (
    id             TEXT PRIMARY KEY,
    payment_id     TEXT NOT NULL REFERENCES payments (id),
    merchant_id    TEXT NOT NULL REFERENCES merchants (id),
    transaction_id INT8 NOT NULL UNIQUE CHECK (transaction_id > 0 AND transaction_id < 9007199254740992),
    amount         INT8 NOT NULL CHECK (amount > 0),
    status         TEXT NOT NULL CHECK (status IN ('Pending', 'Completed')),
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
)
