-- Records: the outbox. seq is acceptance order; times are unix microseconds.
CREATE TABLE records (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    module          TEXT    NOT NULL,
    session_id      TEXT    NOT NULL,
    data            BLOB    NOT NULL,
    received_at     INTEGER NOT NULL,
    state           INTEGER NOT NULL DEFAULT 0, -- 0 pending, 1 synced, 2 dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    synced_at       INTEGER,
    dedupe_key      TEXT
);

-- Dedupe (guarantee 6): one record per key while the record is kept.
CREATE UNIQUE INDEX records_dedupe ON records (dedupe_key) WHERE dedupe_key IS NOT NULL;
-- Lease: a module's head in acceptance order; dead letters of one module.
CREATE INDEX records_module_state_seq ON records (module, state, seq);
-- Dead letters of all modules in order. Partial, so that ingest and
-- delivery (which never touch dead records) do not pay for it.
CREATE INDEX records_dead ON records (seq) WHERE state = 2;
-- Prune and 24 h latency: synced records by sync time.
CREATE INDEX records_synced_at ON records (synced_at) WHERE state = 1;

-- Modules: counters kept in the same transactions that change records, so
-- summaries cost one row per module however many records there are.
-- (Delivery leases are held in memory: one process owns a SQLite store.)
CREATE TABLE modules (
    module       TEXT PRIMARY KEY,
    received     INTEGER NOT NULL DEFAULT 0,
    pending      INTEGER NOT NULL DEFAULT 0,
    synced       INTEGER NOT NULL DEFAULT 0,
    dead         INTEGER NOT NULL DEFAULT 0,
    last_seen_at INTEGER NOT NULL DEFAULT 0,
    last_sync_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
) WITHOUT ROWID;
