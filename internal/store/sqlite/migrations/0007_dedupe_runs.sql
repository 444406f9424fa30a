-- Dedupe keys on disk (issue 15, point 3): memory holds only the recent
-- keys (a memtable bounded by --dedupe-memory). When it is full it is
-- written, sorted, as a run: the run's keys go at the end of dedupe_keys
-- (keyed by run first, so the B-tree only grows at its end: no random
-- page writes), and its row here carries its Bloom filter, which is what
-- a store reads when it opens instead of every key.
CREATE TABLE dedupe_runs (
    run       INTEGER PRIMARY KEY,
    first_seq INTEGER NOT NULL, -- the records' seqs this run covers
    last_seq  INTEGER NOT NULL,
    min_at    INTEGER NOT NULL, -- their received_at, unix microseconds
    max_at    INTEGER NOT NULL,
    keys      INTEGER NOT NULL,
    filter    BLOB    NOT NULL
);
CREATE TABLE dedupe_keys (
    run    INTEGER NOT NULL,
    digest BLOB    NOT NULL, -- 16 bytes (keys.go: digestOf)
    seq    INTEGER NOT NULL,
    PRIMARY KEY (run, digest)
) WITHOUT ROWID;
