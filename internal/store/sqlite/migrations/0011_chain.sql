-- The tamper-evident log (issue 18; bridge/chain.go). Each record keeps its
-- content hash at acceptance and the hash of its module's previous record
-- (32 zero bytes for a module's first). Records accepted before this
-- migration have neither and are not part of any chain.
ALTER TABLE records ADD COLUMN hash BLOB;
ALTER TABLE records ADD COLUMN prev_hash BLOB;
-- Set when pruning or a purge deleted the records just before this one:
-- the prev_hash of the first of them, so the chain steps over the run.
ALTER TABLE records ADD COLUMN skip_from BLOB;
-- Each module's chain head (the hash of its last accepted record), and
-- chain_skip when its last records were deleted (as skip_from above),
-- handed to the next record accepted.
ALTER TABLE modules ADD COLUMN chain_head BLOB;
ALTER TABLE modules ADD COLUMN chain_skip BLOB;
-- The greatest record id pruning removed: reconciliation with the Bucket
-- (which keeps what the bridge prunes) starts above it.
ALTER TABLE modules ADD COLUMN pruned_id TEXT NOT NULL DEFAULT '';
-- Reconciliation reads a module's records in id order through the id
-- index (ScanIDs): an index on (module, id) cost ingest 9% (wrk-pair,
-- docs/benchmarks.md), for a scan that runs once in a while.
