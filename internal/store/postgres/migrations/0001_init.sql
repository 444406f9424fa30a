-- The outbox on PostgreSQL: what the SQLite store keeps, shared by every
-- serve replica. Times are unix microseconds (bigint), as in SQLite, so
-- that both stores round-trip the same values; lease deadlines are the
-- database's own clock (timestamptz), never a caller's.

-- seq is taken from record_seq inside the append's transaction, after the
-- module's row in modules is locked: appends of one module therefore
-- commit in the order of their seqs (per-module order = commit order).
CREATE SEQUENCE record_seq;
CREATE TABLE records (
    seq             bigint   PRIMARY KEY,
    id              text     NOT NULL UNIQUE,
    module          text     NOT NULL,
    session_id      text     NOT NULL,
    data            bytea    NOT NULL, -- the bytes as received
    received_at     bigint   NOT NULL,
    state           smallint NOT NULL DEFAULT 0, -- bridge.State: 0 pending, 1 synced, 2 dead
    attempts        integer  NOT NULL DEFAULT 0,
    next_attempt_at bigint   NOT NULL,
    last_error      text     NOT NULL DEFAULT '',
    synced_at       bigint   NOT NULL DEFAULT 0,
    dedupe_key      text     NOT NULL DEFAULT ''
);
-- A lease reads a module's pending head: one seek here, however many
-- records were delivered before it. Queries on a module's pending or dead
-- records say ORDER BY module, seq: the primary key cannot give that
-- order, so the planner takes these indexes even when its statistics
-- still say most records are pending (after a bulk append it chose a
-- scan of the primary key, filtering past every synced record: 245 ms a
-- claim at 127,000 synced).
CREATE INDEX records_pending ON records (module, seq) WHERE state = 0;
CREATE INDEX records_dead ON records (module, seq) WHERE state = 2;
CREATE INDEX records_synced ON records (synced_at) WHERE state = 1;

-- One row per key: the record that stands for it. A key whose record is
-- older than a new record's window is taken over by the new record.
CREATE TABLE dedupe_keys (
    key         text   PRIMARY KEY,
    record_id   text   NOT NULL,
    received_at bigint NOT NULL,
    since       bigint NOT NULL DEFAULT 0 -- the window the writer asked (for the upsert's condition)
);
CREATE INDEX dedupe_keys_record ON dedupe_keys (record_id);

-- Per-module counters, updated in the transactions that change records.
-- An append locks its modules' rows (in name order) before it takes seqs.
CREATE TABLE modules (
    module       text   PRIMARY KEY,
    received     bigint NOT NULL DEFAULT 0,
    pending      bigint NOT NULL DEFAULT 0,
    synced       bigint NOT NULL DEFAULT 0,
    dead         bigint NOT NULL DEFAULT 0,
    dead_total   bigint NOT NULL DEFAULT 0,
    replayed     bigint NOT NULL DEFAULT 0,
    last_seen_at bigint NOT NULL DEFAULT 0,
    last_sync_at bigint NOT NULL DEFAULT 0,
    interval_us  bigint NOT NULL DEFAULT 0,
    intervals    bigint NOT NULL DEFAULT 0
);

-- The fenced lease of each module: epoch grows with every lease, token
-- names the live one, until is on the database's clock.
CREATE TABLE leases (
    module text        PRIMARY KEY,
    owner  text        NOT NULL DEFAULT '',
    epoch  bigint      NOT NULL DEFAULT 0,
    token  text        NOT NULL DEFAULT '',
    until  timestamptz NOT NULL DEFAULT '-infinity'
);

CREATE TABLE attempts (
    n           bigserial PRIMARY KEY,
    at          bigint  NOT NULL,
    module      text    NOT NULL,
    lease_id    text    NOT NULL,
    first_seq   bigint  NOT NULL,
    last_seq    bigint  NOT NULL,
    records     integer NOT NULL,
    outcome     text    NOT NULL,
    http_status integer NOT NULL DEFAULT 0,
    error       text    NOT NULL DEFAULT '',
    latency_us  bigint  NOT NULL DEFAULT 0
);
CREATE INDEX attempts_module ON attempts (module, first_seq);
CREATE INDEX attempts_at ON attempts (at);

-- minute is unix seconds / 60; hist counts synced records per latency
-- bucket (bridge.LatencyBoundsMs, then +Inf).
CREATE TABLE rollups (
    minute         bigint   NOT NULL,
    module         text     NOT NULL,
    received       bigint   NOT NULL DEFAULT 0,
    duplicates     bigint   NOT NULL DEFAULT 0,
    rejected       bigint   NOT NULL DEFAULT 0,
    ingest_errors  bigint   NOT NULL DEFAULT 0,
    synced         bigint   NOT NULL DEFAULT 0,
    failed         bigint   NOT NULL DEFAULT 0,
    dead           bigint   NOT NULL DEFAULT 0,
    replayed       bigint   NOT NULL DEFAULT 0,
    latency_sum_us bigint   NOT NULL DEFAULT 0,
    latency_min_us bigint   NOT NULL DEFAULT 0,
    latency_max_us bigint   NOT NULL DEFAULT 0,
    hist           bigint[] NOT NULL,
    PRIMARY KEY (minute, module)
);

CREATE TABLE edits (
    n         bigserial PRIMARY KEY,
    record_id text   NOT NULL,
    at        bigint NOT NULL,
    old_data  bytea  NOT NULL,
    new_data  bytea  NOT NULL,
    note      text   NOT NULL DEFAULT '',
    author    text   NOT NULL DEFAULT ''
);
CREATE INDEX edits_record ON edits (record_id, n);

CREATE TABLE audit (
    seq     bigserial PRIMARY KEY,
    at      bigint  NOT NULL,
    actor   text    NOT NULL DEFAULT '',
    role    text    NOT NULL DEFAULT '',
    action  text    NOT NULL,
    target  text    NOT NULL DEFAULT '',
    records integer NOT NULL DEFAULT 0,
    detail  text    NOT NULL DEFAULT ''
);

-- Ping writes here: it checks that the database takes a write.
CREATE TABLE ping (id integer PRIMARY KEY, at timestamptz NOT NULL);

-- Who leads the replicas (the holder of the leader lock writes itself here).
CREATE TABLE leader (
    id       integer PRIMARY KEY CHECK (id = 1),
    instance text        NOT NULL,
    since    timestamptz NOT NULL
);
