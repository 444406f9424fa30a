-- Runs of dedupe keys are merged (compaction.go), so a run's row now exists
-- from its first block on and says where it stands: 0 being written, 1
-- live, 2 garbage (merged into another, or its records all gone), its
-- blocks deleted a few at a time before the row goes. A store killed while
-- a run was written finds it at 0 when it opens and makes it garbage.
ALTER TABLE dedupe_runs ADD COLUMN state INTEGER NOT NULL DEFAULT 1;
