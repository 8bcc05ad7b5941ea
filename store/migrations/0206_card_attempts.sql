-- The card networks' retry rules count per card and merchant (card_key):
-- every retry and every declined scheduled charge leaves a row here; an
-- approved first attempt only when the card has recent rows (it ends a
-- run of soft declines), so the happy path writes nothing here.
CREATE TABLE IF NOT EXISTS card_attempts (
    subscription_id TEXT NOT NULL,
    period_no       INT8 NOT NULL,
    attempt         INT8 NOT NULL,
    card_key        TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    retry           BOOL NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('Pending', 'Approved', 'Declined')),
    reason_code     INT8 NOT NULL DEFAULT 0,
    PRIMARY KEY (subscription_id, period_no, attempt)
)
