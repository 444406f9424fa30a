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
type walSyncer struct {
	path string
	mu   sync.Mutex
	f    *os.File
	err  error // sticky: the first failure
}

func openWALSyncer(path string) (*walSyncer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open WAL for sync: %w", err)
	}
	return &walSyncer{path: path, f: f}, nil
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

// SyncsByCaller reports whether commits wait for SyncWAL to be durable.
func (d *DB) SyncsByCaller() bool { return d.wal != nil }

func (w *walSyncer) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	// SQLite keeps the WAL file while a connection is open, and only
	// truncates it in place; should it ever be replaced, the new file is
	// the one to sync.
	if st, err := os.Stat(w.path); err == nil {
		if fst, ferr := w.f.Stat(); ferr == nil && !os.SameFile(st, fst) {
			f, err := os.OpenFile(w.path, os.O_RDWR, 0o600)
			if err != nil {
				w.err = fmt.Errorf("%w: reopen %s: %v", ErrSyncFailed, w.path, err)
				return w.err
			}
			w.f.Close()
			w.f = f
		}
	}
	if err := fdatasync(w.f); err != nil {
		w.err = fmt.Errorf("%w: %s: %v", ErrSyncFailed, w.path, err)
		return w.err
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
