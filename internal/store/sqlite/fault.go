package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"corebridge/internal/bridge"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// LimitPages caps the database at used+extra pages (SQLite's
// max_page_count, on the write connection) and returns used, the pages in
// use now; extra < 0 lifts the cap. Past it a write fails with
// SQLITE_FULL, as on a full disk: tests and drills use it to fill the
// store for real without filling a filesystem.
func (s *Store) LimitPages(ctx context.Context, extra int64) (used int64, err error) {
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&used); err != nil {
		return 0, fmt.Errorf("limit pages: %w", err)
	}
	max := used + extra
	if extra < 0 {
		max = 4294967294 // SQLite's default
	}
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, max)); err != nil {
		return 0, fmt.Errorf("limit pages: %w", err)
	}
	return used, nil
}

// RetryAfter is what a producer refused for a storage fault is told to
// wait: a full disk or a read-only file does not heal in a second.
const RetryAfter = 5 * time.Second

// storageFault turns an error of SQLite that says the storage cannot take
// writes now (full, an I/O error, read-only, busy or locked) into an
// EUNAVAILABLE *bridge.Error naming the fault, with the SQLite error as
// its cause; other errors are returned as they are. The caller's
// producers are answered 503 and retry: none of it was stored.
func storageFault(err error) error {
	var se *msqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	var what string
	switch se.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_FULL:
		what = "storage is full: free disk space on the bridge's data directory"
	case sqlite3.SQLITE_IOERR:
		what = "storage I/O error: the bridge's database cannot be written"
	case sqlite3.SQLITE_READONLY:
		what = "storage is read-only: the bridge's database cannot be written"
	case sqlite3.SQLITE_CANTOPEN:
		what = "storage cannot be opened: the bridge's database files are not accessible"
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		what = "storage is busy: the bridge's database is locked"
	default:
		return err
	}
	return &bridge.Error{Code: bridge.EUNAVAILABLE, Message: what + "; nothing was stored, retry later", Err: err, RetryAfter: RetryAfter}
}
