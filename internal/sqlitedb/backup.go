package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Backup writes a consistent copy of the database at src to dst, which
// must not exist, while other processes keep writing to src: VACUUM INTO
// on a connection of its own reads one snapshot of the database (the
// main file and its WAL) in a read transaction, which in WAL mode blocks
// neither the writer nor checkpoints short of a truncation. The copy is
// created readable by its owner only, is a plain (rollback-journal)
// database with no WAL of its own, and is fsynced before Backup returns.
// It is never a byte copy of the live files, which could catch a page
// half written or miss what is still in the WAL.
func Backup(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup %s: %w", src, err)
	}
	// VACUUM INTO writes into an empty file as into a new one, and keeps
	// the mode of one that exists: make it owner-only first.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup %s: %w", src, err)
	}
	f.Close()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: src}).EscapedPath()+
		fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeoutMs))
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("backup %s: %w", src, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("backup %s: %w", src, err)
	}
	if err := syncFile(dst); err != nil {
		return fmt.Errorf("backup %s: %w", src, err)
	}
	return nil
}

// OpenReadOnly opens the database at path for reading only, with one
// connection: what Backup wrote, before it is put in place.
func OpenReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+
		fmt.Sprintf("?mode=ro&_pragma=busy_timeout(%d)", busyTimeoutMs))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// IntegrityCheck runs PRAGMA integrity_check on db and returns an error
// naming the first problems it reports, nil when it answers ok.
func IntegrityCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("integrity_check: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	if len(msgs) == 1 && msgs[0] == "ok" {
		return nil
	}
	if len(msgs) == 0 {
		return errors.New("integrity_check: no answer")
	}
	return fmt.Errorf("integrity_check: %s", strings.Join(msgs, "; "))
}

// syncFile fsyncs path and the directory that holds it, so that both
// the file's data and its name survive a power loss.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory: the names created, renamed or removed in
// it reach the disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
