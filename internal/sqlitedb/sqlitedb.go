// Package sqlitedb opens SQLite databases the way corebridge needs them:
// WAL journal; the synchronous mode asked for (FULL by default, or NORMAL),
// read back after opening and refused if different, since the driver
// silently ignores a mistyped DSN key and durability would go with it; one
// write connection (_txlock=immediate, MaxOpenConns 1: SQLite has one
// writer anyway, and queueing in Go is cheaper than its busy-wait) and a
// read-only pool (query_only); busy_timeout and foreign_keys on both; and
// embedded numbered migrations, each applied in one transaction together
// with its record in schema_migrations.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	sqlite "modernc.org/sqlite" // also registers the "sqlite" driver
)

// Commits sync with fdatasync(2), as SQLite's own Linux builds do (its
// configure script finds fdatasync; the transpiled driver defaults to
// fsync): the WAL's data and size reach the disk all the same, without an
// extra journal commit for its timestamps. Durability is unchanged.
func init() { _, _ = sqlite.Fdatasync(true) }

// busyTimeoutMs is how long a connection waits for a lock before SQLite
// answers busy.
const busyTimeoutMs = 10000

// Options tune Open.
type Options struct {
	// Synchronous is FULL (default: fsync on every commit) or NORMAL
	// (faster; a power loss may drop the last commits, a process crash not).
	Synchronous string
	// ReadConns bounds the read pool (default 4).
	ReadConns int
	// Migrations holds the migrations as NNNN_name.sql files at its root
	// (e.g. fs.Sub of an embed.FS); they are applied in name order, those
	// whose number schema_migrations does not hold yet. Nil applies none.
	Migrations fs.FS
	// BackgroundCheckpoint moves WAL checkpoints off the write connection
	// to one of their own (see checkpoint.go).
	BackgroundCheckpoint bool
	// CheckpointEvery is the background pass interval (default 1 s);
	// MaxWALPages the WAL size past which a pass restarts the WAL from the
	// write connection, between two commits (default 16,384 pages: 64 MiB
	// at 4 KiB).
	CheckpointEvery time.Duration
	MaxWALPages     int
	// SyncByCaller, with Synchronous FULL, commits on the write connection
	// without waiting for the disk (the connection runs NORMAL) and leaves
	// the fsync to the caller: SyncWAL makes every commit made before it
	// durable, as FULL would have at each commit. One fsync can then cover
	// several commits, and the next commit is written while it runs (see
	// walsync.go). Checkpoints sync as they do under FULL.
	SyncByCaller bool
	// Log gets one INFO line per migration applied ("applied migration
	// 0011_chain.sql"); nil discards them.
	Log *slog.Logger
}

// DB is one SQLite file opened through two pools.
type DB struct {
	W    *sql.DB // one connection: every write
	R    *sql.DB // read-only pool
	Path string

	ckpt *checkpointer // nil unless BackgroundCheckpoint
	wal  *walSyncer    // nil unless SyncByCaller
}

// Open opens (creating if needed) the database at path, checks that the
// journal and sync modes are what was asked for, applies migrations and
// opens the read pool.
func Open(ctx context.Context, path string, o Options) (*DB, error) {
	sync := strings.ToUpper(o.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	want, ok := map[string]int{"NORMAL": 1, "FULL": 2}[sync]
	if !ok {
		return nil, fmt.Errorf("open sqlite %s: synchronous must be FULL or NORMAL, not %q", path, o.Synchronous)
	}
	if o.SyncByCaller && sync == "FULL" {
		// The caller fsyncs the WAL itself (SyncWAL) before it relies on
		// a commit: the connections run NORMAL, which syncs only around
		// checkpoints and when the WAL starts over.
		sync, want = "NORMAL", 1
	} else {
		o.SyncByCaller = false
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	// The database holds record data: create it readable by its owner
	// only (SQLite gives its -wal and -shm files the database's mode).
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	dsn := func(extra string) string {
		return "file:" + (&url.URL{Path: path}).EscapedPath() +
			"?_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")" +
			fmt.Sprintf("&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", busyTimeoutMs) + extra
	}
	if o.MaxWALPages <= 0 {
		o.MaxWALPages = 16384
	}
	wextra := "&_txlock=immediate"
	if o.BackgroundCheckpoint {
		// The writer checkpoints only if the background pass has fallen
		// far behind (or failed): a safety net, not the way.
		wextra += fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)", 4*o.MaxWALPages)
	}
	w, err := sql.Open("sqlite", dsn(wextra))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	d := &DB{W: w, Path: path}
	if err := d.checkPragmas(ctx, sync, want); err != nil {
		w.Close()
		return nil, err
	}
	if o.Migrations != nil {
		log := o.Log
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		if err := migrate(ctx, w, o.Migrations, log.With("db", path)); err != nil {
			w.Close()
			var newer *NewerSchemaError
			if errors.As(err, &newer) {
				newer.Path = path
				return nil, newer
			}
			return nil, fmt.Errorf("migrate %s: %w", path, err)
		}
	}
	if o.SyncByCaller {
		if d.wal, err = openWALSyncer(path + "-wal"); err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		// What an earlier process committed may not have reached the
		// disk yet: it does before anything is read as durable.
		if err := d.SyncWAL(); err != nil {
			d.wal.close()
			w.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
	}
	r, err := sql.Open("sqlite", dsn("&_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(o.ReadConns)
	r.SetMaxIdleConns(o.ReadConns)
	d.R = r
	if o.BackgroundCheckpoint {
		c, err := sql.Open("sqlite", dsn(""))
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		c.SetMaxOpenConns(1)
		if o.CheckpointEvery <= 0 {
			o.CheckpointEvery = time.Second
		}
		d.ckpt = &checkpointer{db: c, w: w, every: o.CheckpointEvery, maxPages: o.MaxWALPages,
			stop: make(chan struct{}), done: make(chan struct{})}
		go d.ckpt.run()
	}
	return d, nil
}

// checkPragmas refuses to run on settings other than those asked for: a
// mistyped DSN key is ignored by the driver, silently losing durability.
func (d *DB) checkPragmas(ctx context.Context, sync string, want int) error {
	var mode string
	if err := d.W.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("open sqlite %s: %w", d.Path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("open sqlite %s: journal_mode is %q, want wal", d.Path, mode)
	}
	var level int
	if err := d.W.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil {
		return fmt.Errorf("open sqlite %s: %w", d.Path, err)
	}
	if level != want {
		return fmt.Errorf("open sqlite %s: synchronous is %d, want %d (%s)", d.Path, level, want, sync)
	}
	return nil
}

// Close closes the read pool, folds the WAL into the main file with a
// checkpoint and closes the write connection.
func (d *DB) Close() error {
	var rerr error
	if d.ckpt != nil {
		rerr = d.ckpt.close()
	}
	if d.R != nil {
		rerr = errors.Join(rerr, d.R.Close())
	}
	_, _ = d.W.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	rerr = errors.Join(rerr, d.W.Close())
	if d.wal != nil {
		rerr = errors.Join(rerr, d.wal.close())
	}
	return rerr
}

// NewerSchemaError is Open's refusal of a database migrated by a newer
// corebridge: its schema is past the last migration this binary has, and
// running on it could misread or damage what the newer version wrote.
type NewerSchemaError struct {
	Path       string
	Have, Know int // the database's schema version; the highest this binary knows
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("open sqlite %s: this store was written by a newer corebridge (schema %d, this binary knows up to %d): upgrade corebridge, or restore a backup made by this version",
		e.Path, e.Have, e.Know)
}

// migrate applies, in order, every migration of fsys not yet recorded in
// schema_migrations, each in its own transaction with its record, and
// logs each one it applies. It refuses a database whose schema is newer
// than the newest migration of fsys.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS, log *slog.Logger) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	versions := make([]int, len(names))
	know := 0
	for i, name := range names {
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number: %w", name, err)
		}
		versions[i], know = version, max(know, version)
	}
	have, err := SchemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if have > know {
		return &NewerSchemaError{Have: have, Know: know}
	}
	for i, name := range names {
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		applied, err := applyMigration(ctx, db, versions[i], name, string(body))
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if applied {
			log.Info("applied migration "+name, "migration", name, "version", versions[i])
		}
	}
	return nil
}

// SchemaVersion is the highest migration recorded in db's
// schema_migrations (0 when there is none, or no such table).
func SchemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

func applyMigration(ctx context.Context, db *sql.DB, version int, name, body string) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		version, name, time.Now().UnixMicro()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
