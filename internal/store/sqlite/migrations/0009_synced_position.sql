-- Sync by position (issue 16). The forwarder delivers each module's
-- pending records in seq order, so a settle that confirms the head of a
-- module no longer rewrites each record: the module's synced_seq moves
-- forward, and a record in state 0 at or below it is synced. A settle
-- whose records cannot move the position (its lease was lost, a record
-- after one to retry) still marks them one by one (state 1), as before.
-- Replayed dead letters are pending in state 3 wherever they stand, since
-- they may lie below the position.
ALTER TABLE modules ADD COLUMN synced_seq INTEGER NOT NULL DEFAULT 0;

-- When the position moved: a record synced by position was synced at the
-- time of the first mark at or after its seq. One row per module and
-- second (the last settle of the second wins), so the table grows with
-- time, not with records; prune deletes the marks of pruned records.
CREATE TABLE sync_marks (
    module TEXT    NOT NULL,
    sec    INTEGER NOT NULL, -- unix seconds of at
    seq    INTEGER NOT NULL, -- the position reached
    at     INTEGER NOT NULL, -- unix microseconds
    PRIMARY KEY (module, sec)
) WITHOUT ROWID;
CREATE INDEX sync_marks_seq ON sync_marks (module, seq);
