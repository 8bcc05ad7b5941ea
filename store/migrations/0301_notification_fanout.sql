-- The outbox rows the notifier has turned into deliveries. The outbox itself
-- is never altered: a row without a match here is still to be fanned out.
CREATE TABLE IF NOT EXISTS notification_fanout (
    outbox_id  TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
)
