package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"

	"corebridge/internal/bridge"
)

// Durability. Under synchronous=FULL the store syncs the WAL itself
// (sqlitedb.Options.SyncByCaller): commits do not wait for the disk, and
// Sync makes every commit before it durable with one fsync. Append is
// AppendDeferred then Sync, so its contract is unchanged; the ingest
// writer calls the two apart, so that the next group commit is written
// while the previous one's fsync runs, and answers after the fsync. Every
// other write (settles, dead letters, audit, rollups, prune) syncs before
// it returns (commit), as FULL did.
//
// A record may be read (status, dedupe) between its commit and its sync,
// but it is never leased for delivery before its sync: Lease stops at
// durableSeq, so the Bucket never holds a record that a power loss could
// take from the store before its producer was answered.

// commit commits tx and makes it durable before returning.
func (s *Store) commit(tx *sql.Tx) error {
	if err := tx.Commit(); err != nil {
		return err
	}
	return s.Sync(context.Background())
}

// Sync makes every commit that returned before it was called durable
// (see bridge.DeferredAppender). Once a sync has failed, every later call
// fails: the store must be reopened.
func (s *Store) Sync(ctx context.Context) error {
	target := s.committedSeq.Load()
	s.syncs.Add(1)
	if err := s.db.SyncWAL(); err != nil {
		return &bridge.Error{Code: bridge.EUNAVAILABLE, Message: "store cannot sync to disk", Err: err}
	}
	raise(&s.durableSeq, target)
	return nil
}

// AppendDeferred is Append without waiting for the disk: the records are
// committed (visible to reads and to dedupe) but durable only once a Sync
// called after it returns, and not leased before that.
func (s *Store) AppendDeferred(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	if err := s.db.SyncErr(); err != nil {
		// Nothing committed now could be acknowledged.
		return nil, &bridge.Error{Code: bridge.EUNAVAILABLE, Message: "store cannot sync to disk", Err: err}
	}
	out, err := s.append(ctx, recs)
	return out, storageFault(err)
}

// raise sets a to v unless it already holds as much.
func raise(a *atomic.Int64, v int64) {
	for {
		c := a.Load()
		if c >= v || a.CompareAndSwap(c, v) {
			return
		}
	}
}

// loadSeqs sets the committed and durable marks at open (whatever the
// table holds is durable: sqlitedb synced the WAL when it opened) and
// reads the modules' synced positions.
func (s *Store) loadSeqs(ctx context.Context) error {
	var seq int64
	if err := s.w.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM records`).Scan(&seq); err != nil {
		return fmt.Errorf("last seq: %w", err)
	}
	s.committedSeq.Store(seq)
	s.durableSeq.Store(seq)
	rows, err := s.w.QueryContext(ctx, `SELECT module, synced_seq FROM modules WHERE synced_seq > 0`)
	if err != nil {
		return fmt.Errorf("synced positions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		var pos int64
		if err := rows.Scan(&m, &pos); err != nil {
			return fmt.Errorf("synced positions: %w", err)
		}
		s.synced[m] = pos
	}
	return rows.Err()
}
