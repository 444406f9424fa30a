-- Records the Bucket holds, one per id. seq is the order it stored them in;
-- stored_at is unix microseconds; received_at is the bridge's text, kept as sent.
CREATE TABLE records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    module      TEXT    NOT NULL,
    session_id  TEXT    NOT NULL DEFAULT '',
    data        BLOB    NOT NULL,
    received_at TEXT    NOT NULL DEFAULT '',
    stored_at   INTEGER NOT NULL
);

-- One module's records in stored order (GET /v1/records?module=).
CREATE INDEX records_module_seq ON records (module, seq);

-- Per-module counts, kept in the transaction that stores the records, so
-- stats cost one row per module however many records there are.
CREATE TABLE module_counts (
    module TEXT    PRIMARY KEY,
    n      INTEGER NOT NULL
) WITHOUT ROWID;
