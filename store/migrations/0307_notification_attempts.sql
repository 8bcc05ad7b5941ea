-- Every attempt of a delivery: when, how long, what the receiver answered.
CREATE TABLE IF NOT EXISTS notification_attempts (
    outbox_id   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    attempt     INT8 NOT NULL,
    target      TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    latency_ms  INT8 NOT NULL,
    http_status INT8 NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (outbox_id, channel, attempt)
)
