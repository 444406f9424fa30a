package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"
)

// keyRun is a run of dedupe keys on disk (dedupe_blocks, by run then
// digest) and what memory keeps of it: its filter and what it spans.
type keyRun struct {
	id                int64
	added             uint64 // keydir.version when it joined the runs
	firstSeq, lastSeq int64
	minAt, maxAt      int64
	keys              int64
	filter            *bloom
}

func (r *keyRun) bitsPerKey() float64 {
	return float64(r.filter.size()*8) / float64(max(r.keys, 1))
}

const (
	qLoadRuns = `SELECT run, first_seq, last_seq, min_at, max_at, keys, filter FROM dedupe_runs
		WHERE state = 1 ORDER BY last_seq DESC`
	// A run found being written when the store opens was cut short.
	qCutShort = `UPDATE dedupe_runs SET state = 2 WHERE state = 0`
	qMaxRun   = `SELECT coalesce(max(run), 0) FROM dedupe_runs`
	// Blocks of a run that has no row: one a build before 0008 was
	// writing when it stopped (it inserted the row last).
	qDropPartial = `DELETE FROM dedupe_blocks WHERE run > ?`
	qRunBlock    = `SELECT keys FROM dedupe_blocks WHERE run = ? AND first <= ? ORDER BY first DESC LIMIT 1`
	qInsertBlock = `INSERT INTO dedupe_blocks (run, first, keys) VALUES (?, ?, ?)`
	// A run's row goes in with its first block (state 0) and is made live
	// with its last (state 1, with its filter and what it holds).
	qBeginRun = `INSERT OR REPLACE INTO dedupe_runs (run, first_seq, last_seq, min_at, max_at, keys, filter, state)
		VALUES (?, ?, ?, ?, ?, ?, x'', 0)`
	qEndRun = `UPDATE dedupe_runs SET keys = ?, filter = ?, state = 1 WHERE run = ?`
	// A run can go once no keyed record of its span is left.
	qRunLive = `SELECT EXISTS (SELECT 1 FROM records
		WHERE seq BETWEEN ? AND ? AND dedupe_key IS NOT NULL)`
)

// A frozen memtable goes to disk in steps, each a slice of its sorted
// keys: every group commit carries a step (flushPerRecord keys per record
// it stores, so the run is written twice as fast as keys come in, in
// transactions that pay their fsync anyway), and when no commit carried
// one for flushPause the flusher takes flushChunk keys in a transaction
// of its own. A flush in big transactions of its own held the write path
// ~10 ms at a time, which showed in ingest's p99.
const (
	flushPerRecord = 2
	flushMinStep   = 64
	flushChunk     = 1024
	flushPause     = 20 * time.Millisecond

	blockKeys  = 128 // keys a block holds: 3 KiB, one page
	entryBytes = len(digest{}) + 8
)

// outbound is the frozen memtable on its way to disk: its keys sorted,
// the run they make, and how many are written.
type outbound struct {
	run     *keyRun
	entries []runEntry
	pos     int
}

type runEntry struct {
	k   digest
	seq int64
}

// loadRuns reads the runs' filters (never their keys) and drops the keys
// of a run a crash interrupted.
func (s *Store) loadRuns(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, qCutShort); err != nil {
		return fmt.Errorf("load dedupe runs: %w", err)
	}
	rows, err := s.w.QueryContext(ctx, qLoadRuns)
	if err != nil {
		return fmt.Errorf("load dedupe runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r := &keyRun{}
		var filter []byte
		if err := rows.Scan(&r.id, &r.firstSeq, &r.lastSeq, &r.minAt, &r.maxAt, &r.keys, &filter); err != nil {
			return fmt.Errorf("load dedupe runs: %w", err)
		}
		if r.filter, err = unmarshalBloom(filter); err != nil {
			return fmt.Errorf("load dedupe run %d: %w", r.id, err)
		}
		s.keys.version++
		r.added = s.keys.version
		s.keys.runs = append(s.keys.runs, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load dedupe runs: %w", err)
	}
	rows.Close()
	var last int64
	if err := s.w.QueryRowContext(ctx, qMaxRun).Scan(&last); err != nil {
		return fmt.Errorf("load dedupe runs: %w", err)
	}
	s.keys.next = last + 1
	if _, err := s.w.ExecContext(ctx, qDropPartial, last); err != nil {
		return fmt.Errorf("drop a partly written dedupe run: %w", err)
	}
	s.keys.fitFilters()
	return nil
}

// fitFilters folds the runs' own filters with the most bits per key
// until all of them fit runFilterBytes, and publishes the runs as they
// then are.
func (d *keydir) fitFilters() {
	defer d.publish()
	for {
		total := 0
		var widest *keyRun
		for _, r := range d.runs {
			if r.filter == nil {
				continue
			}
			total += r.filter.size()
			if len(r.filter.words) > blockWords && (widest == nil || r.bitsPerKey() > widest.bitsPerKey()) {
				widest = r
			}
		}
		if total <= d.runFilterBytes || widest == nil {
			return
		}
		// A new run with the folded filter: probes may be reading the
		// old one.
		i := slices.Index(d.runs, widest)
		folded := *widest
		folded.filter = widest.filter.folded()
		d.runs[i] = &folded
	}
}

// runFlusher writes frozen memtables to disk, off the ingest path, until
// ctx ends. A failed flush keeps the memtable (lookups still see it) and
// is tried again.
func (s *Store) runFlusher(ctx context.Context) {
	retry := time.NewTicker(5 * time.Second)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.keys.kick:
		case <-retry.C:
		}
		err := s.flush(ctx, flushPause)
		if ctx.Err() != nil {
			return
		}
		switch prev := s.DedupeFlushError(); {
		case err != nil && prev == nil:
			s.keys.log.Warn("dedupe index: writing keys to disk failed; they stay in memory and it is tried again every 5 s", "err", err)
		case err == nil && prev != nil:
			s.keys.log.Info("dedupe index: writing keys to disk works again")
		}
		s.flushErr.Store(errBox{err})
	}
}

type errBox struct{ err error }

// DedupeFlushError is the last flush's error (nil once one succeeds): a
// memtable that cannot be written stays in memory, past the budget.
func (s *Store) DedupeFlushError() error {
	if b, ok := s.flushErr.Load().(errBox); ok {
		return b.err
	}
	return nil
}

// flush writes frozen, if any, as the next run: sorted, its filter built
// off the write path, then in steps (flushStep) until the run's row is in,
// pausing between its own steps so that group commits, which carry steps
// too, come first. Deletions meanwhile leave stale entries in the run,
// which lookups confirm against the records anyway.
func (s *Store) flush(ctx context.Context, pause time.Duration) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if !s.prepareFlush() {
		return nil
	}
	for {
		done, err := func() (bool, error) {
			s.keys.mu.Lock()
			defer s.keys.mu.Unlock()
			if s.keys.out == nil {
				return true, nil // group commits finished it
			}
			if pause > 0 && time.Since(s.keys.lastStep) < pause {
				return false, nil // group commits are carrying it
			}
			tx, err := s.w.BeginTx(ctx, nil)
			if err != nil {
				return false, err
			}
			defer tx.Rollback()
			chunk := flushChunk
			if pause == 0 { // at open, or a test: nothing waits
				chunk = len(s.keys.out.entries)
			}
			pos, done, err := s.flushStep(ctx, tx, chunk)
			if err != nil {
				return false, err
			}
			if err := s.commit(tx); err != nil {
				return false, err
			}
			s.keys.advance(pos, done)
			return done, nil
		}()
		if err != nil {
			return fmt.Errorf("flush dedupe keys: %w", storageFault(err))
		}
		if done {
			return nil
		}
		if pause > 0 {
			if err := sleepCtx(ctx, pause); err != nil {
				return err
			}
		}
	}
}

// prepareFlush sorts the frozen memtable's keys and builds their filter,
// off the write path, unless that is done; false if nothing is frozen.
func (s *Store) prepareFlush() bool {
	s.keys.mu.Lock()
	f, out := s.keys.frozen, s.keys.out
	var entries []runEntry
	if f != nil && out == nil {
		entries = make([]runEntry, 0, len(f.keys))
		for k, seq := range f.keys {
			entries = append(entries, runEntry{k, seq})
		}
	}
	s.keys.mu.Unlock()
	if f == nil || out != nil {
		return f != nil
	}
	slices.SortFunc(entries, func(a, b runEntry) int { return bytes.Compare(a.k[:], b.k[:]) })
	run := &keyRun{firstSeq: f.firstSeq, lastSeq: f.lastSeq, minAt: f.minAt, maxAt: f.maxAt,
		keys: int64(len(entries)), filter: newBloom(len(entries))}
	for _, e := range entries {
		run.filter.add(e.k)
	}
	s.keys.mu.Lock()
	run.id = s.keys.next
	s.keys.next++
	s.keys.out = &outbound{run: run, entries: entries}
	g := s.keys.global.Load() // a build swapping it in from now on adds out itself
	s.keys.mu.Unlock()
	if g != nil {
		for _, e := range entries {
			g.add(e.k)
		}
		g.keys.Add(int64(len(entries)))
	}
	return true
}

// flushStep writes, in tx, up to n more keys of the run on its way out,
// and the run's row after its last key; keydir.mu is held. The caller
// commits and then calls advance(pos, done), or rolls back and does not.
func (s *Store) flushStep(ctx context.Context, tx *sql.Tx, n int) (pos int, done bool, err error) {
	o := s.keys.out
	if o == nil {
		return 0, false, nil
	}
	blocks := (n + blockKeys - 1) / blockKeys
	end := min(o.pos+blocks*blockKeys, len(o.entries))
	ins, err := s.ws.stmt(ctx, tx, qInsertBlock)
	if err != nil {
		return 0, false, err
	}
	r := o.run
	if o.pos == 0 {
		if _, err := tx.ExecContext(ctx, qBeginRun, r.id, r.firstSeq, r.lastSeq, r.minAt, r.maxAt, r.keys); err != nil {
			return 0, false, fmt.Errorf("dedupe run %d: %w", r.id, err)
		}
	}
	for at := o.pos; at < end; at += blockKeys {
		b := o.entries[at:min(at+blockKeys, end)]
		if _, err := ins.ExecContext(ctx, r.id, b[0].k[:], encodeBlock(b)); err != nil {
			return 0, false, fmt.Errorf("dedupe run %d: %w", r.id, err)
		}
	}
	if end < len(o.entries) {
		return end, false, nil
	}
	if _, err := tx.ExecContext(ctx, qEndRun, r.keys, r.filter.marshal(), r.id); err != nil {
		return 0, false, fmt.Errorf("dedupe run %d: %w", r.id, err)
	}
	return end, true, nil
}

// inRuns asks the runs added after version after (0: all), newest
// first, for key: each seq a run holds for it, until found accepts one.
// A run whose own filter says no is not read; with g (the global
// filter, which stands for them all), none is unless g says maybe.
func (s *Store) inRuns(ctx context.Context, tx *sql.Tx, g *global, key digest, since int64, after uint64, found func(seq int64) (bool, error)) (bool, error) {
	if g != nil && !g.mayHold(key) {
		return false, nil
	}
	for _, r := range s.keys.runs {
		if r.added <= after {
			continue // probed
		}
		seq, ok, err := s.askRun(ctx, tx, r, key, since)
		if err != nil {
			return false, err
		}
		if !ok {
			continue
		}
		if hit, err := found(seq); hit || err != nil {
			return hit, err
		}
	}
	return false, nil
}

// askRun is the seq run r holds for key, if any: its filter first, then
// the block the key would be in, read in tx, or on the read pool when tx
// is nil (a probe).
func (s *Store) askRun(ctx context.Context, tx *sql.Tx, r *keyRun, key digest, since int64) (int64, bool, error) {
	if r.maxAt < since {
		// Every record of the run was received before the window of
		// the key's kind: none can be its original. For a content key
		// (a 5 min window) that skips all but the newest runs without
		// touching a filter.
		return 0, false, nil
	}
	if r.filter != nil && !r.filter.mayHold(key) {
		return 0, false, nil
	}
	s.keys.runReads.Add(1)
	var rows *sql.Rows
	var err error
	if tx != nil {
		rows, err = s.ws.query(ctx, tx, qRunBlock, r.id, key[:])
	} else {
		rows, err = s.rs.queryDB(ctx, qRunBlock, r.id, key[:])
	}
	if err != nil {
		return 0, false, fmt.Errorf("dedupe run %d: %w", r.id, err)
	}
	defer rows.Close()
	var block []byte
	if !rows.Next() {
		return 0, false, rows.Err()
	}
	if err := rows.Scan(&block); err != nil {
		return 0, false, fmt.Errorf("dedupe run %d: %w", r.id, err)
	}
	seq, ok := searchBlock(block, key)
	return seq, ok, nil
}

// dropRuns makes garbage, in tx, of the oldest runs none of whose keyed
// records is left (pruned or purged), up to a few per call: the
// collector (compaction.go) deletes their blocks. gone returns them for
// forgetRuns once tx commits.
func (s *Store) dropRuns(ctx context.Context, tx *sql.Tx) (gone int, err error) {
	for i := len(s.keys.runs) - 1; i >= 0 && gone < 4; i-- {
		r := s.keys.runs[i]
		var live bool
		if err := tx.QueryRowContext(ctx, qRunLive, r.firstSeq, r.lastSeq).Scan(&live); err != nil {
			return 0, fmt.Errorf("dedupe run %d: %w", r.id, err)
		}
		if live {
			break
		}
		if _, err := tx.ExecContext(ctx, qTrashRun, r.id); err != nil {
			return 0, fmt.Errorf("drop dedupe run %d: %w", r.id, err)
		}
		gone++
	}
	return gone, nil
}

// forgetRuns forgets the n oldest runs, which dropRuns deleted.
func (d *keydir) forgetRuns(n int) {
	var keys int64
	for _, r := range d.runs[len(d.runs)-n:] {
		keys += r.keys
	}
	d.runs = d.runs[:len(d.runs)-n]
	d.publish()
	d.askCollect()
	if g := d.global.Load(); g != nil && 4*g.stale.Add(keys) > g.keys.Load() {
		d.askRebuild()
	}
}

// encodeBlock packs sorted entries as a block: digest, then seq (8 bytes,
// big-endian), each.
func encodeBlock(entries []runEntry) []byte {
	out := make([]byte, 0, len(entries)*entryBytes)
	for _, e := range entries {
		out = append(out, e.k[:]...)
		out = binary.BigEndian.AppendUint64(out, uint64(e.seq))
	}
	return out
}

// decodeBlock appends a block's entries to dst (encodeBlock's inverse).
func decodeBlock(dst []runEntry, block []byte) []runEntry {
	for i := 0; i+entryBytes <= len(block); i += entryBytes {
		var e runEntry
		copy(e.k[:], block[i:])
		e.seq = int64(binary.BigEndian.Uint64(block[i+len(e.k):]))
		dst = append(dst, e)
	}
	return dst
}

// searchBlock finds key in a block (binary search: its digests are sorted).
func searchBlock(block []byte, key digest) (int64, bool) {
	n := len(block) / entryBytes
	i := sort.Search(n, func(i int) bool { return bytes.Compare(block[i*entryBytes:i*entryBytes+len(key)], key[:]) >= 0 })
	if i == n || !bytes.Equal(block[i*entryBytes:i*entryBytes+len(key)], key[:]) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(block[i*entryBytes+len(key):])), true
}
