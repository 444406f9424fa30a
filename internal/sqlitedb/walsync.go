package sqlitedb

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Syncing by the caller (Options.SyncByCaller). Under synchronous=FULL,
// SQLite fsyncs the WAL inside every commit, and the one write connection
// waits for the disk before it can write the next transaction: a busy
// store's commits then follow each other at the pace of fsync, not of the
// CPU. With SyncByCaller the connections run NORMAL (a commit is written to
// the WAL, not synced) and SyncWAL fsyncs the WAL file: every commit that
// returned before SyncWAL was called is then on the disk, as FULL would
// have made it. The group-commit writer commits the next batch while the
// previous one's fsync runs, and answers a batch only after its fsync.
//
// Durability is FULL's: SQLite's WAL recovery keeps the frames up to the
// last commit whose checksums hold, so a commit written before a completed
// fsync survives a power loss; a commit after it may not, and nothing
// relies on it yet. NORMAL still syncs the WAL before each checkpoint
// copies it into the main file and when the WAL starts over, as FULL does.
//
// A failed fsync is final (as PostgreSQL treats it since 2018): the kernel
// may have dropped the pages it could not write and report success on the
// next try, so every later SyncWAL fails too, and the store must be
// reopened (a restart), where SQLite's recovery reads what really is on
// the disk.

// walSyncer fsyncs a WAL file through a descriptor of its own: fsync
// flushes the file's pages whichever descriptor wrote them.
//
// Callers that ask while a sync runs share the next one: a caller needs a
// sync that began after it asked (one already running may have begun
// before its commit), so it waits for the running one to end and then
// the first waiter starts one for all who waited. Several committers
// (the ingest writer, settles, the Bucket's concurrent batches) then pay
// one fsync between them instead of one each in turn.
type walSyncer struct {
	path string
	mu   sync.Mutex
	cond *sync.Cond
	f    *os.File
	err  error // sticky: the first failure

	running       bool
	started, done uint64 // syncs started and finished

	beforeSync func(n uint64) // a test's, as sync number n begins
	inject     error          // FailSyncs: the next fsync fails with it
}

func openWALSyncer(path string) (*walSyncer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open WAL for sync: %w", err)
	}
	w := &walSyncer{path: path, f: f}
	w.cond = sync.NewCond(&w.mu)
	return w, nil
}

// ErrSyncFailed wraps the error of a failed fsync of the WAL; once seen,
// SyncWAL returns it until the database is reopened.
var ErrSyncFailed = errors.New("fsync of the WAL failed; reopen the store")

// SyncWAL makes every commit that returned before it was called durable.
// It is a no-op (nil) unless the DB was opened with SyncByCaller, whose
// commits FULL already syncs. Calls may run concurrently with commits.
func (d *DB) SyncWAL() error {
	if d.wal == nil {
		return nil
	}
	return d.wal.sync()
}

// FailSyncs makes the next fsync fail with err, as a disk that stopped
// taking writes would: for tests of what follows a failed fsync. It is a
// no-op unless the DB syncs by caller.
func (d *DB) FailSyncs(err error) {
	if d.wal == nil {
		return
	}
	d.wal.mu.Lock()
	d.wal.inject = err
	d.wal.mu.Unlock()
}

// SyncErr is the failure that made SyncWAL fail for good; nil while it
// works (and always without SyncByCaller).
func (d *DB) SyncErr() error {
	if d.wal == nil {
		return nil
	}
	d.wal.mu.Lock()
	defer d.wal.mu.Unlock()
	return d.wal.err
}

// SyncsByCaller reports whether commits wait for SyncWAL to be durable.
func (d *DB) SyncsByCaller() bool { return d.wal != nil }

func (w *walSyncer) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	need := w.started + 1 // the first sync to begin after this call
	for w.done < need && w.err == nil {
		if w.running {
			w.cond.Wait()
			continue
		}
		w.running = true
		w.started++
		n := w.started
		hook := w.beforeSync
		w.mu.Unlock()
		if hook != nil {
			hook(n)
		}
		err := w.syncFile()
		w.mu.Lock()
		w.running = false
		w.done = n
		if err != nil && w.err == nil {
			w.err = err
		}
		w.cond.Broadcast()
	}
	return w.err
}

// syncFile fsyncs the WAL; only one runs at a time (sync's running).
func (w *walSyncer) syncFile() error {
	w.mu.Lock()
	f, inject := w.f, w.inject
	w.mu.Unlock()
	if inject != nil {
		return fmt.Errorf("%w: %s: %v", ErrSyncFailed, w.path, inject)
	}
	if f == nil {
		return fmt.Errorf("%w: %s: closed", ErrSyncFailed, w.path)
	}
	// SQLite keeps the WAL file while a connection is open, and only
	// truncates it in place; should it ever be replaced, the new file is
	// the one to sync.
	if st, err := os.Stat(w.path); err == nil {
		if fst, ferr := f.Stat(); ferr == nil && !os.SameFile(st, fst) {
			nf, err := os.OpenFile(w.path, os.O_RDWR, 0o600)
			if err != nil {
				return fmt.Errorf("%w: reopen %s: %v", ErrSyncFailed, w.path, err)
			}
			w.mu.Lock()
			if w.f != nil {
				w.f.Close()
			}
			w.f, f = nf, nf
			w.mu.Unlock()
		}
	}
	if err := fdatasync(f); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSyncFailed, w.path, err)
	}
	return nil
}

// close closes the descriptor; later calls do nothing, and SyncWAL fails.
func (w *walSyncer) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if w.err == nil {
		w.err = fmt.Errorf("%w: %s: closed", ErrSyncFailed, w.path)
	}
	return err
}
