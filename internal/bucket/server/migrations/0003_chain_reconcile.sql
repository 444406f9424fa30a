-- The chain (docs/protocol.md, "The chain"): prev_hash and first_hash as
-- the record arrived with them, 32 bytes each; NULL when absent.
ALTER TABLE records ADD COLUMN prev_hash BLOB;
ALTER TABLE records ADD COLUMN first_hash BLOB;

-- A module's records in id order: reconciliation scans a slot or a small
-- range with it, and the chain report walks a module with it.
CREATE INDEX records_module_id ON records (module, id);

-- Reconciliation sums (reconcile.go): per module and slot of the id
-- space, how many records it holds and the XOR of their digests
-- (bucket.RecordDigest), as four 64-bit integers (f0 the first 8 bytes,
-- big-endian), since SQL has XOR of integers, (a | b) & ~(a & b), and none
-- of blobs. A slot is the records whose id starts with the same first 8
-- (level 1) or 11 (level 2) characters, its key; an id shorter than that
-- is a slot of its own. The Go insert path keeps the sums in the
-- transaction that stores the records; a slot that holds none has no row.
CREATE TABLE recon_sums (
    module TEXT    NOT NULL,
    level  INTEGER NOT NULL,
    slot   TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    f0     INTEGER NOT NULL,
    f1     INTEGER NOT NULL,
    f2     INTEGER NOT NULL,
    f3     INTEGER NOT NULL,
    PRIMARY KEY (module, level, slot)
) WITHOUT ROWID;

-- Level-2 slots whose sums may be wrong: rows deleted or changed behind
-- the Bucket's back (the sqlite3 CLI, a script). SQL cannot compute
-- SHA-256, so the triggers only mark the slot; the next reconcile answer
-- of the module recomputes it from its records, and its level-1 slot
-- from its level-2 slots. substr counts characters, as the Go side does.
CREATE TABLE recon_dirty (
    module TEXT NOT NULL,
    slot   TEXT NOT NULL,
    PRIMARY KEY (module, slot)
) WITHOUT ROWID;

CREATE TRIGGER records_recon_delete AFTER DELETE ON records BEGIN
    INSERT OR IGNORE INTO recon_dirty (module, slot) VALUES (old.module, substr(old.id, 1, 11));
END;

CREATE TRIGGER records_recon_update AFTER UPDATE OF id, module, hash ON records BEGIN
    INSERT OR IGNORE INTO recon_dirty (module, slot) VALUES (old.module, substr(old.id, 1, 11));
    INSERT OR IGNORE INTO recon_dirty (module, slot) VALUES (new.module, substr(new.id, 1, 11));
END;

-- Records stored before this migration have no sums yet: their slots
-- start dirty, and the first answer for a module computes them.
INSERT OR IGNORE INTO recon_dirty (module, slot) SELECT module, substr(id, 1, 11) FROM records;
