-- Per-minute, per-module counters (bridge.Rollup), kept in the same
-- transactions that change records, so that the 24 h figures read at most
-- 1,440 rows per module however many records there are. minute is unix
-- seconds / 60. h0..h33 count synced records per latency bucket
-- (bridge.LatencyBoundsMs, then +Inf).
CREATE TABLE rollups (
    minute         INTEGER NOT NULL,
    module         TEXT    NOT NULL,
    received       INTEGER NOT NULL DEFAULT 0,
    duplicates     INTEGER NOT NULL DEFAULT 0,
    rejected       INTEGER NOT NULL DEFAULT 0,
    ingest_errors  INTEGER NOT NULL DEFAULT 0,
    synced         INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    dead           INTEGER NOT NULL DEFAULT 0,
    replayed       INTEGER NOT NULL DEFAULT 0,
    latency_sum_us INTEGER NOT NULL DEFAULT 0,
    latency_min_us INTEGER NOT NULL DEFAULT 0,
    latency_max_us INTEGER NOT NULL DEFAULT 0,
    h0  INTEGER NOT NULL DEFAULT 0, h1  INTEGER NOT NULL DEFAULT 0,
    h2  INTEGER NOT NULL DEFAULT 0, h3  INTEGER NOT NULL DEFAULT 0,
    h4  INTEGER NOT NULL DEFAULT 0, h5  INTEGER NOT NULL DEFAULT 0,
    h6  INTEGER NOT NULL DEFAULT 0, h7  INTEGER NOT NULL DEFAULT 0,
    h8  INTEGER NOT NULL DEFAULT 0, h9  INTEGER NOT NULL DEFAULT 0,
    h10 INTEGER NOT NULL DEFAULT 0, h11 INTEGER NOT NULL DEFAULT 0,
    h12 INTEGER NOT NULL DEFAULT 0, h13 INTEGER NOT NULL DEFAULT 0,
    h14 INTEGER NOT NULL DEFAULT 0, h15 INTEGER NOT NULL DEFAULT 0,
    h16 INTEGER NOT NULL DEFAULT 0, h17 INTEGER NOT NULL DEFAULT 0,
    h18 INTEGER NOT NULL DEFAULT 0, h19 INTEGER NOT NULL DEFAULT 0,
    h20 INTEGER NOT NULL DEFAULT 0, h21 INTEGER NOT NULL DEFAULT 0,
    h22 INTEGER NOT NULL DEFAULT 0, h23 INTEGER NOT NULL DEFAULT 0,
    h24 INTEGER NOT NULL DEFAULT 0, h25 INTEGER NOT NULL DEFAULT 0,
    h26 INTEGER NOT NULL DEFAULT 0, h27 INTEGER NOT NULL DEFAULT 0,
    h28 INTEGER NOT NULL DEFAULT 0, h29 INTEGER NOT NULL DEFAULT 0,
    h30 INTEGER NOT NULL DEFAULT 0, h31 INTEGER NOT NULL DEFAULT 0,
    h32 INTEGER NOT NULL DEFAULT 0, h33 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, module)
) WITHOUT ROWID;

-- The 24 h figures now come from rollups.
DROP TABLE sync_log;

-- Lifetime counters for Prometheus (monotonic), and what silence
-- detection learns: the moving average of the gap between two commits of
-- a module's records, and how many gaps it has seen.
ALTER TABLE modules ADD COLUMN dead_total  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE modules ADD COLUMN replayed    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE modules ADD COLUMN interval_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE modules ADD COLUMN intervals   INTEGER NOT NULL DEFAULT 0;
UPDATE modules SET dead_total = dead;

-- Edits of dead letters' data before replay: the record's history.
CREATE TABLE edits (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    record   TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    old_data BLOB    NOT NULL,
    new_data BLOB    NOT NULL,
    note     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX edits_record ON edits (record, id);
