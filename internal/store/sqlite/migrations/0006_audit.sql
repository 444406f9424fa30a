-- The audit log (issue 13, point 9): every operator action, newest read
-- first by seq. Small (one row per action), never pruned.
CREATE TABLE audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL DEFAULT '',
    role    TEXT    NOT NULL DEFAULT '',
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    records INTEGER NOT NULL DEFAULT 0,
    detail  TEXT    NOT NULL DEFAULT ''
);
-- An edit names its author.
ALTER TABLE edits ADD COLUMN author TEXT NOT NULL DEFAULT '';
