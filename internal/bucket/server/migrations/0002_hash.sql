-- The content hash a record arrived with (32 bytes of SHA-256, see
-- bridge.ContentHash), so that a known id sent with other content is told
-- apart from a redelivery. NULL for records sent without one.
ALTER TABLE records ADD COLUMN hash BLOB;
