// Package sqlite is the default Store: one SQLite file in WAL mode with
// synchronous=FULL, so a committed record survives a crash or power loss.
// Writes go through one connection (SQLite has one writer anyway, and
// queueing in Go is cheaper than SQLite's busy-wait); reads use a pool.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"corebridge/internal/bridge"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options tune the store.
type Options struct {
	// Synchronous is FULL (default: fsync on every commit) or NORMAL
	// (faster; a power loss may drop the last commits, a process crash not).
	Synchronous string
	// ReadConns bounds the read pool (default 4).
	ReadConns int
}

// Store is a bridge.Store on one SQLite file.
type Store struct {
	path string
	w    *sql.DB // one connection: every write
	r    *sql.DB // read-only pool
	ws   *stmts  // prepared statements of w
	rs   *stmts  // prepared statements of r

	leaseMu sync.Mutex
	leases  map[string]memLease // by module
	unlock  func()              // releases the file lock
}

var _ bridge.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path, checks that the
// journal and sync modes are what was asked for, and applies migrations.
func Open(path string, opts Options) (*Store, error) {
	sync := strings.ToUpper(opts.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" {
		return nil, bridge.Errorf(bridge.EINVALID, "sqlite synchronous must be FULL or NORMAL, not %q", opts.Synchronous)
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	dsn := func(extra string) string {
		return "file:" + (&url.URL{Path: path}).EscapedPath() +
			"?_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")" +
			"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" + extra
	}
	// One process owns the store: its leases are in memory.
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", dsn("&_txlock=immediate"))
	if err != nil {
		unlock()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{path: path, w: w, leases: map[string]memLease{}, unlock: unlock}
	fail := func(err error) (*Store, error) {
		w.Close()
		unlock()
		return nil, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.checkPragmas(ctx, sync); err != nil {
		return fail(err)
	}
	if err := migrate(ctx, w); err != nil {
		return fail(fmt.Errorf("migrate %s: %w", path, err))
	}
	r, err := sql.Open("sqlite", dsn("&_pragma=query_only(1)"))
	if err != nil {
		return fail(err)
	}
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	s.r = r
	s.ws, s.rs = newStmts(w), newStmts(r)
	if err := s.rs.prepare(ctx, readQueries...); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: prepare: %w", path, err)
	}
	if err := s.ws.prepare(ctx, writeQueries...); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: prepare: %w", path, err)
	}
	return s, nil
}

// checkPragmas refuses to run on settings other than those asked for: a
// mistyped DSN key is ignored by the driver, silently losing durability.
func (s *Store) checkPragmas(ctx context.Context, sync string) error {
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("open sqlite %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("open sqlite %s: journal_mode is %q, want wal", s.path, mode)
	}
	var level int
	if err := s.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil {
		return err
	}
	want := map[string]int{"NORMAL": 1, "FULL": 2}[sync]
	if level != want {
		return fmt.Errorf("open sqlite %s: synchronous is %d, want %d (%s)", s.path, level, want, sync)
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Ping takes a real write, so it fails when the disk or file is not writable.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES ('ping', ?)
		ON CONFLICT (k) DO UPDATE SET v = excluded.v`, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return &bridge.Error{Code: bridge.EUNAVAILABLE, Message: "store is not writable", Err: err}
	}
	return nil
}

// Close closes both pools; a checkpoint folds the WAL into the main file.
func (s *Store) Close() error {
	var errs []error
	s.ws.close()
	s.rs.close()
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	_, _ = s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	errs = append(errs, s.w.Close())
	s.unlock()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
