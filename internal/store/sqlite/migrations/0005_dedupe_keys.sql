-- Dedupe keys (guarantee 6) leave the unique index, whose random keys
-- dirtied a page per record in every commit and made ingest slower as the
-- store grew. The store holds the keys in memory (see keys.go), reading
-- them through this index when it opens; the index only grows at its end.
CREATE INDEX records_seq_key ON records (seq, dedupe_key) WHERE dedupe_key IS NOT NULL;
DROP INDEX records_dedupe;
