// Package sqlite is the default Store: one SQLite file in WAL mode with
// synchronous=FULL, so a committed record survives a crash or power loss.
// Writes go through one connection (SQLite has one writer anyway, and
// queueing in Go is cheaper than SQLite's busy-wait); reads use a pool.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options tune the store.
type Options struct {
	// Synchronous is FULL (default: fsync on every commit) or NORMAL
	// (faster; a power loss may drop the last commits, a process crash not).
	Synchronous string
	// ReadConns bounds the read pool (default 4).
	ReadConns int
	// DeadPage is how many records ReplayDead and PurgeDead change per
	// transaction when they select a module or all (DefaultDeadPage), so
	// that an ingest commit waits for one page, not for all of them.
	DeadPage int
	// DedupeMemory is the dedupe index's memory budget in bytes
	// (DefaultDedupeMemory): recent keys and the filters of the keys on
	// disk. More memory, fewer reads of the disk per new key.
	DedupeMemory int64
	// runFiltersOnly keeps the dedupe index on its runs' own filters,
	// never building the global one (tests of that path).
	runFiltersOnly bool
	// noCompactor leaves runs unmerged and garbage uncollected unless a
	// test calls mergeOnce or collect itself.
	noCompactor bool
	// Log gets the dedupe index's warnings (over budget, a failed
	// flush) and their recoveries, and one INFO line per migration
	// applied at open; nil discards them.
	Log *slog.Logger
}

// DefaultDeadPage is Options.DeadPage's default.
const DefaultDeadPage = 500

// Store is a bridge.Store on one SQLite file.
type Store struct {
	db *sqlitedb.DB
	w  *sql.DB // db.W: one connection, every write
	r  *sql.DB // db.R: read-only pool
	ws *stmts  // prepared statements of w
	rs *stmts  // prepared statements of r

	keys     keydir       // the dedupe index
	flushMu  sync.Mutex   // one flush at a time
	flushErr atomic.Value // errBox: the last flush's outcome
	stop     func()       // stops the flusher
	stopped  chan struct{}

	leaseMu sync.Mutex
	leases  map[string]memLease // by module
	held    map[string]int      // modules a paged replay holds back from Lease (guarded by leaseMu)
	synced  map[string]int64    // each module's synced position, as committed (guarded by leaseMu; lease.go)
	epoch   int64               // the last lease's epoch (guarded by leaseMu)
	unlock  func()              // releases the file lock

	deadPage int // Options.DeadPage

	beforeSwap func() // a test's, between a merge's last block and its swap

	// committedSeq is the last record seq committed, durableSeq the last
	// made durable by a sync (durable.go): Lease stops there.
	committedSeq, durableSeq atomic.Int64
	syncs                    atomic.Int64          // Sync calls, for tests
	known                    knownModules          // modules with a row (counters.go)
	chains                   map[string]chainState // by module, as committed (chain.go; guarded by keys.mu)
}

var _ bridge.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path, checks that the
// journal and sync modes are what was asked for, and applies migrations.
func Open(path string, opts Options) (*Store, error) {
	syncMode := strings.ToUpper(opts.Synchronous)
	if syncMode == "" {
		syncMode = "FULL"
	}
	if syncMode != "FULL" && syncMode != "NORMAL" {
		return nil, bridge.Errorf(bridge.EINVALID, "sqlite synchronous must be FULL or NORMAL, not %q", opts.Synchronous)
	}
	migrations, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	// One process owns the store: its leases are in memory.
	unlock, err := sqlitedb.Lock(path + ".lock")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{
		Synchronous: syncMode, ReadConns: opts.ReadConns, Migrations: migrations, BackgroundCheckpoint: true,
		SyncByCaller: true, Log: opts.Log,
	})
	if err != nil {
		unlock()
		return nil, err
	}
	s := &Store{db: db, w: db.W, r: db.R, leases: map[string]memLease{}, held: map[string]int{}, synced: map[string]int64{}, unlock: unlock,
		deadPage: opts.DeadPage, keys: newKeydir(opts.DedupeMemory, opts.Log)}
	if opts.runFiltersOnly {
		s.keys.runFilterBytes = s.keys.filterBytes
	}
	if s.deadPage <= 0 {
		s.deadPage = DefaultDeadPage
	}
	s.ws, s.rs = newStmts(s.w), newStmts(s.r)
	if err := s.loadSeqs(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := s.loadChains(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := s.loadRuns(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// Not under the 30 s of ctx: a store made before runs writes its
	// keys as runs the first time (about a second per million keys).
	if err := s.loadTail(context.Background()); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := s.rs.prepare(ctx, readQueries...); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: prepare: %w", path, err)
	}
	if err := s.ws.prepare(ctx, writeQueries...); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: prepare: %w", path, err)
	}
	if opts.runFiltersOnly {
		// The global filter is never built.
	} else if len(s.keys.runs) == 0 {
		s.keys.global.Store(newGlobal(s.keys.filterBytes)) // nothing to read
	} else {
		s.keys.askRebuild() // the runs' own filters serve until it is built
	}
	flushCtx, stop := context.WithCancel(context.Background())
	s.stop, s.stopped = stop, make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.runFlusher(flushCtx) })
	wg.Go(func() { s.runGlobal(flushCtx) })
	if !opts.noCompactor {
		wg.Go(func() { s.runCompactor(flushCtx) })
	}
	s.keys.askCollect() // garbage left by the last run, merges due
	go func() {
		wg.Wait()
		close(s.stopped)
	}()
	return s, nil
}

// Ping takes a real write, so it fails when the disk or file is not
// writable. It writes (and removes, in the same transaction) pingBytes
// besides its timestamp: a one-row update fits in pages the database
// already has, and would say "writable" on a full disk.
func (s *Store) Ping(ctx context.Context) error {
	err := s.ping(ctx)
	if err == nil {
		return nil
	}
	if err = storageFault(err); bridge.ErrorCode(err) == bridge.EUNAVAILABLE {
		return err
	}
	return &bridge.Error{Code: bridge.EUNAVAILABLE, Message: "store is not writable", Err: err}
}

// pingBytes is what Ping writes besides its timestamp: about what a small
// group commit needs.
const pingBytes = 64 << 10

func (s *Store) ping(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES ('ping-room', zeroblob(?))
		ON CONFLICT (k) DO UPDATE SET v = excluded.v`, pingBytes); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM meta WHERE k = 'ping-room'`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES ('ping', ?)
		ON CONFLICT (k) DO UPDATE SET v = excluded.v`, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return err
	}
	return s.commit(tx)
}

// Close closes both pools (a checkpoint folds the WAL into the main
// file) and releases the file lock.
func (s *Store) Close() error {
	if s.stop != nil {
		s.stop()
		<-s.stopped
	}
	s.ws.close()
	s.rs.close()
	err := s.db.Close()
	s.unlock()
	return err
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
