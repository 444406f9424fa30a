-- Every delivery attempt of a batch: when, what came of it, how long it took.
-- first_seq..last_seq are the batch's records (a run of one module's pending
-- records in acceptance order).
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    module      TEXT    NOT NULL,
    lease_id    TEXT    NOT NULL,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    records     INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    http_status INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    latency_us  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attempts_at ON attempts (at);
CREATE INDEX attempts_module_seq ON attempts (module, last_seq);
