-- One row per settle that synced records: when, how many, and the sum of
-- their latencies (synced_at - received_at). The 24 h latency figures read
-- these rows, one per delivered batch, instead of every synced record.
CREATE TABLE sync_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    module         TEXT    NOT NULL,
    records        INTEGER NOT NULL,
    latency_us_sum INTEGER NOT NULL
);
CREATE INDEX sync_log_at ON sync_log (at);
