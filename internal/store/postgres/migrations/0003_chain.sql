-- The tamper-evident log (issue 18; bridge/chain.go). Each record keeps its
-- content hash at acceptance and the hash of its module's previous record
-- (32 zero bytes for a module's first). Records accepted before this
-- migration have neither and are not part of any chain.
ALTER TABLE records ADD COLUMN hash bytea, ADD COLUMN prev_hash bytea;
-- Each module's chain head (the hash of its last accepted record), and the
-- greatest record id pruning removed (reconciliation starts above it).
ALTER TABLE modules ADD COLUMN chain_head bytea, ADD COLUMN pruned_id text NOT NULL DEFAULT '';
-- Runs of records that pruning or a purge deleted: the chain goes from
-- from_hash (the prev_hash of the run's first) to to_hash (the hash of its
-- last). Adjacent runs are merged, so there is one row per hole.
CREATE TABLE chain_skips (
    module    text  NOT NULL,
    from_hash bytea NOT NULL,
    to_hash   bytea NOT NULL,
    PRIMARY KEY (module, from_hash)
);
CREATE INDEX chain_skips_to ON chain_skips (module, to_hash);
-- Reconciliation reads a module's records in id order (byte order).
CREATE INDEX records_module_id ON records (module, id COLLATE "C");
