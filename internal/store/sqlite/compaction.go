package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Runs are merged, so that their number grows with the logarithm of the
// keys, not with the keys: a key the global filter takes for a maybe
// (~0.5% of new keys at ten million) reads one block per run, and at 61
// runs those reads were a tenth of serve's CPU. mergeFanIn consecutive
// runs of one tier (their sizes within a factor of mergeFanIn) become one
// run of the next tier, written beside them a few blocks per transaction
// (mergeStep, paced like a flush so that ingest's commits come first);
// one transaction then makes it live and the merged runs garbage, which
// the collector deletes a few blocks at a time. Every key is written
// again once per tier it climbs: ~log4(keys / memtable) times.
//
// Merging and collecting are paced to a share of the time (mergeDuty):
// after each step they pause for mergeIdle times what the step took. Run
// flat out, merging 11M keys (43 s) took ingest from ~10,000 to 6,300
// req/s and its p99 from 17 to 183 ms.
const (
	mergeFanIn   = 4
	mergeStep    = 32 // blocks a transaction writes or deletes
	mergePause   = 20 * time.Millisecond
	mergeIdle    = 4  // pause mergeIdle times a step's work: a fifth of the time
	mergeReadRow = 32 // blocks a cursor reads at a time
)

// pacer spaces background steps: each pause is mergeIdle times the work
// since the last one, at least mergePause.
type pacer struct{ since time.Time }

func (p *pacer) pause(ctx context.Context) error {
	work := time.Since(p.since)
	err := sleepCtx(ctx, max(mergePause, mergeIdle*work))
	p.since = time.Now()
	return err
}

const (
	qTrashRun   = `UPDATE dedupe_runs SET state = 2 WHERE run = ?`
	qGarbageRun = `SELECT run FROM dedupe_runs WHERE state = 2 LIMIT 1`
	qDropBlocks = `DELETE FROM dedupe_blocks WHERE rowid IN (SELECT rowid FROM dedupe_blocks WHERE run = ? LIMIT ?)`
	qDropRunRow = `DELETE FROM dedupe_runs WHERE run = ? AND state = 2`
	qRunBlocks  = `SELECT first, keys FROM dedupe_blocks WHERE run = ? AND first > ? ORDER BY first LIMIT ?`
)

// tierOf is the tier of a run of keys: 0 below three memtables, then
// one more per factor of mergeFanIn (a margin of a quarter, so that
// mergeFanIn full runs of a tier make one of the next).
func tierOf(keys int64, memKeys int) int {
	t := 0
	for n := int64(max(memKeys, 1)) * mergeFanIn * 3 / 4; keys >= n; n *= mergeFanIn {
		t++
	}
	return t
}

// pickMerge is the oldest mergeFanIn consecutive runs of one tier, newest
// first, or nil; mu is held.
func (d *keydir) pickMerge() []*keyRun {
	for i := len(d.runs) - mergeFanIn; i >= 0; i-- {
		t := tierOf(d.runs[i].keys, d.memKeys)
		same := true
		for _, r := range d.runs[i+1 : i+mergeFanIn] {
			if tierOf(r.keys, d.memKeys) != t {
				same = false
				break
			}
		}
		if same {
			return append([]*keyRun(nil), d.runs[i:i+mergeFanIn]...)
		}
	}
	return nil
}

// askCollect has the compactor look for work (garbage, runs to merge).
func (d *keydir) askCollect() {
	select {
	case d.compact <- struct{}{}:
	default:
	}
}

// runCompactor deletes garbage runs and merges runs until ctx ends,
// whenever a run is added or dropped, and every 5 s after a failure.
func (s *Store) runCompactor(ctx context.Context) {
	retry := time.NewTicker(5 * time.Second)
	defer retry.Stop()
	failed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.keys.compact:
		case <-retry.C:
			if !failed {
				continue
			}
		}
		err := s.collect(ctx)
		for err == nil {
			var merged bool
			if merged, err = s.mergeOnce(ctx); !merged {
				break
			}
			err = s.collect(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && !failed:
			s.keys.log.Warn("dedupe index: merging runs failed; tried again every 5 s", "err", err)
		case err == nil && failed:
			s.keys.log.Info("dedupe index: merging runs works again")
		}
		failed = err != nil
	}
}

// collect deletes the blocks of garbage runs, mergeStep per transaction,
// then their rows.
func (s *Store) collect(ctx context.Context) error {
	for {
		var run int64
		switch err := s.w.QueryRowContext(ctx, qGarbageRun).Scan(&run); err {
		case nil:
		case sql.ErrNoRows:
			return nil
		default:
			return fmt.Errorf("collect dedupe runs: %w", storageFault(err))
		}
		pace := pacer{since: time.Now()}
		for {
			var n int64
			err := s.quietTx(ctx, func(tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, qDropBlocks, run, mergeStep)
				if err == nil {
					n, err = res.RowsAffected()
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("collect dedupe run %d: %w", run, storageFault(err))
			}
			if n < mergeStep {
				break
			}
			if err := pace.pause(ctx); err != nil {
				return err
			}
		}
		if _, err := s.w.ExecContext(ctx, qDropRunRow, run); err != nil {
			return fmt.Errorf("collect dedupe run %d: %w", run, storageFault(err))
		}
	}
}

// quietTx runs fn in a write transaction that commits without an fsync
// (the write connection runs synchronous=NORMAL and the store syncs the
// WAL itself after the commits that need it: durable.go): for merge and
// collect steps, whose loss in a crash only leaves garbage that the next
// open collects. The next commit that syncs makes their frames durable
// with its own; the step that makes a merged run live is such a commit.
// Without the fsync a step holds the write connection for a fraction of
// the time that ingest's commits wait.
func (s *Store) quietTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// runCursor reads a run's entries in digest order, a few blocks at a time.
type runCursor struct {
	s       *Store
	run     int64
	after   []byte // the first digest of the last block read
	entries []runEntry
	done    bool
}

func (c *runCursor) head(ctx context.Context) (*runEntry, error) {
	if len(c.entries) == 0 && !c.done {
		if err := c.fill(ctx); err != nil {
			return nil, err
		}
	}
	if len(c.entries) == 0 {
		return nil, nil
	}
	return &c.entries[0], nil
}

func (c *runCursor) fill(ctx context.Context) error {
	rows, err := c.s.rs.queryDB(ctx, qRunBlocks, c.run, c.after, mergeReadRow)
	if err != nil {
		return fmt.Errorf("dedupe run %d: %w", c.run, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var first, block []byte
		if err := rows.Scan(&first, &block); err != nil {
			return fmt.Errorf("dedupe run %d: %w", c.run, err)
		}
		c.after = first
		c.entries = decodeBlock(c.entries, block)
		n++
	}
	if n < mergeReadRow {
		c.done = true
	}
	return rows.Err()
}

// mergeOnce merges the runs pickMerge chooses, if any, into one.
func (s *Store) mergeOnce(ctx context.Context) (bool, error) {
	s.keys.mu.Lock()
	in := s.keys.pickMerge()
	var id int64
	if in != nil {
		id = s.keys.next
		s.keys.next++
	}
	s.keys.mu.Unlock()
	if in == nil {
		return false, nil
	}
	start := time.Now()
	out := &keyRun{id: id, firstSeq: in[len(in)-1].firstSeq, lastSeq: in[0].lastSeq,
		minAt: in[0].minAt, maxAt: in[0].maxAt}
	var total int64
	curs := make([]*runCursor, len(in)) // newest first, as in
	for i, r := range in {
		total += r.keys
		out.minAt, out.maxAt = min(out.minAt, r.minAt), max(out.maxAt, r.maxAt)
		curs[i] = &runCursor{s: s, run: r.id, after: []byte{}}
	}
	// Its own filter serves only after an open, until the global one is
	// built.
	out.filter = newBloomAtMost(int(total), s.keys.runFilterBytes)
	if _, err := s.w.ExecContext(ctx, qBeginRun, out.id, out.firstSeq, out.lastSeq, out.minAt, out.maxAt, total); err != nil {
		return false, fmt.Errorf("merge dedupe runs: %w", storageFault(err))
	}
	fail := func(err error) (bool, error) {
		// What was written is garbage (or, if this fails too, found
		// being written at the next open, which makes it so).
		if _, terr := s.w.ExecContext(context.WithoutCancel(ctx), qTrashRun, out.id); terr == nil {
			s.keys.askCollect()
		}
		return false, err
	}
	var block []runEntry
	var pending [][]runEntry
	pace := pacer{since: time.Now()}
	write := func(final bool) error {
		if len(block) == blockKeys || (final && len(block) > 0) {
			pending = append(pending, block)
			block = nil
		}
		if len(pending) < mergeStep && !(final && len(pending) > 0) {
			return nil
		}
		if err := s.quietTx(ctx, func(tx *sql.Tx) error {
			for _, b := range pending {
				if _, err := tx.ExecContext(ctx, qInsertBlock, out.id, b[0].k[:], encodeBlock(b)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		pending = pending[:0]
		return pace.pause(ctx)
	}
	for {
		// The smallest digest at the cursors' heads; of equal ones (a
		// key stored again after its window) the newest run's.
		var best *runEntry
		for _, c := range curs {
			h, err := c.head(ctx)
			if err != nil {
				return fail(err)
			}
			if h != nil && (best == nil || bytes.Compare(h.k[:], best.k[:]) < 0) {
				best = h
			}
		}
		if best == nil {
			break
		}
		e := *best
		for _, c := range curs {
			if h, _ := c.head(ctx); h != nil && h.k == e.k {
				c.entries = c.entries[1:]
			}
		}
		block = append(block, e)
		out.keys++
		out.filter.add(e.k)
		if err := write(false); err != nil {
			return fail(fmt.Errorf("merge dedupe runs: %w", storageFault(err)))
		}
	}
	if err := write(true); err != nil {
		return fail(fmt.Errorf("merge dedupe runs: %w", storageFault(err)))
	}
	if s.beforeSwap != nil {
		s.beforeSwap()
	}
	// Make it live in place of its inputs, unless one of them was
	// dropped meanwhile (its records all gone): then it is garbage.
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	at := -1
	for i, r := range s.keys.runs {
		if r.id == in[0].id {
			at = i
			break
		}
	}
	if at < 0 || at+len(in) > len(s.keys.runs) {
		return fail(nil)
	}
	for j, r := range in {
		if s.keys.runs[at+j].id != r.id {
			return fail(nil)
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fail(fmt.Errorf("merge dedupe runs: %w", storageFault(err)))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, qEndRun, out.keys, out.filter.marshal(), out.id); err != nil {
		return fail(fmt.Errorf("merge dedupe runs: %w", storageFault(err)))
	}
	for _, r := range in {
		if _, err := tx.ExecContext(ctx, qTrashRun, r.id); err != nil {
			return fail(fmt.Errorf("merge dedupe runs: %w", storageFault(err)))
		}
	}
	if err := s.commit(tx); err != nil {
		return fail(fmt.Errorf("merge dedupe runs: %w", storageFault(err)))
	}
	if s.keys.global.Load() != nil {
		out.filter = nil // the global filter stands for it
	}
	s.keys.version++
	out.added = s.keys.version
	runs := append([]*keyRun(nil), s.keys.runs[:at]...)
	runs = append(runs, out)
	s.keys.runs = append(runs, s.keys.runs[at+len(in):]...)
	s.keys.fitFilters() // publishes
	s.keys.log.Info("dedupe index: runs merged", "runs", len(in), "keys", out.keys, "run", out.id,
		"took", time.Since(start).Round(time.Millisecond).String())
	s.keys.askCollect()
	return true, nil
}
