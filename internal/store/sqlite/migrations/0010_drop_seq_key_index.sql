-- The dedupe keys are in runs on disk since migration 0007: this index
-- only served opening (the records after the last run) and asking whether
-- a run's span still holds a keyed record, both ranges of the primary key.
-- Every record paid an entry in it, and every group commit a page (issue 16).
DROP INDEX records_seq_key;
