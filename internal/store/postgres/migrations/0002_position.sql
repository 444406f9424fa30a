-- Each module's settled position: every record of the module with seq at
-- or below pos is synced or dead. A lease's head seek starts above it.
-- A settle marks records synced or dead by UPDATE, and the old versions'
-- entries stay in records_pending until vacuum: a seek from the start of
-- the module walked them all (20,000 heap fetches a module, 150-400 ms a
-- claim while a 100,000-record backlog drained at 5,000 records/s).
-- Settles move pos over the head they settled; a replay lowers it below
-- the records it makes pending again.
ALTER TABLE modules ADD COLUMN pos bigint NOT NULL DEFAULT 0;
