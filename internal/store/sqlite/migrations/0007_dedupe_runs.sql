-- Dedupe keys on disk (issue 15, point 3): memory holds only the recent
-- keys (a memtable bounded by --dedupe-memory). When it is full it is
-- written, sorted, as a run: the run's keys go at the end of
-- dedupe_blocks (keyed by run first, so its B-trees only grow at their
-- end: no random page writes), and its row here carries its Bloom filter,
-- which is what a store reads when it opens instead of every key.
CREATE TABLE dedupe_runs (
    run       INTEGER PRIMARY KEY,
    first_seq INTEGER NOT NULL, -- the records' seqs this run covers
    last_seq  INTEGER NOT NULL,
    min_at    INTEGER NOT NULL, -- their received_at, unix microseconds
    max_at    INTEGER NOT NULL,
    keys      INTEGER NOT NULL,
    filter    BLOB    NOT NULL
);
-- A run's keys, sorted, in blocks of up to 128 (digest, 16 bytes, then
-- the record's seq, 8 bytes big-endian): a lookup reads the one block
-- whose first digest is the greatest not above the key, and a flush
-- writes a row per 128 keys, not one per key.
CREATE TABLE dedupe_blocks (
    run   INTEGER NOT NULL,
    first BLOB    NOT NULL,
    keys  BLOB    NOT NULL
);
CREATE INDEX dedupe_blocks_run_first ON dedupe_blocks (run, first);
