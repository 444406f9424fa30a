package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"
)

// global is one Bloom filter for the keys of every run, so that a new key
// costs one cache line whatever the number of runs: asking each run's own
// filter cost a cache miss per run (57 at ten million keys, ~15 µs a key)
// and its false positives a block read each. It is sized by the filters'
// budget, not by the keys: more keys, more false positives, never more
// memory. Where it says maybe, one statement reads the block the key
// would be in from every run (qRunsBlocks).
//
// Bits cannot be taken out of a Bloom filter, so the keys of dropped runs
// stay in it until it is built again from the runs on disk (buildGlobal),
// in the background: at open, and when dropped keys reach a quarter of
// those added. Until the first is built after open, lookups ask each
// run's filter, read at open from dedupe_runs, which every run still
// carries; once it is built they leave memory. Its words are read and set
// atomically: a flush adds a run's keys while producers probe.
type global struct {
	words []uint64
	k     int
	keys  atomic.Int64 // keys added
	stale atomic.Int64 // keys of runs dropped since it was built
}

func newGlobal(bytes int) *global {
	blocks := max(bytes/(blockWords*8), 1)
	return &global{words: make([]uint64, blocks*blockWords), k: 7}
}

// probes are bloom's, with the block taken by multiplying (Lemire's
// fastrange), so that the filter is its budget exactly, not the power of
// two below it.
func (g *global) probes(d digest) (base int, h uint64, step uint64) {
	h1, h2 := hashes(d)
	hi, _ := bits.Mul64(h1, uint64(len(g.words)/blockWords))
	return int(hi) * blockWords, h2, h2>>32 | 1
}

func (g *global) add(d digest) {
	base, h, step := g.probes(d)
	for range g.k {
		bit := h & 511
		atomic.OrUint64(&g.words[base+int(bit>>6)], 1<<(bit&63))
		h += step
	}
}

func (g *global) mayHold(d digest) bool {
	base, h, step := g.probes(d)
	for range g.k {
		bit := h & 511
		if atomic.LoadUint64(&g.words[base+int(bit>>6)])&(1<<(bit&63)) == 0 {
			return false
		}
		h += step
	}
	return true
}

func (g *global) size() int { return len(g.words) * 8 }

// qRunsBlocks reads, for every live run whose records are not all older
// than the key's window, the block the key would be in, newest run
// first: one statement, one index seek a run, instead of a statement a
// run. Runs added after the caller's view of them are read too (they
// are asked again anyway); merged ones are gone with their row's state.
const qRunsBlocks = `SELECT r.run, (SELECT b.keys FROM dedupe_blocks b
		WHERE b.run = r.run AND b.first <= ?1 ORDER BY b.first DESC LIMIT 1)
	FROM dedupe_runs r WHERE r.state = 1 AND r.max_at >= ?2 ORDER BY r.last_seq DESC`

// inGlobal is what the runs hold for key, newest first, when one of runs
// (the caller's view of them) has records in the key's window and g says
// they may hold it: read in tx, or on the read pool when tx is nil (a
// probe).
func (s *Store) inGlobal(ctx context.Context, tx *sql.Tx, g *global, runs []*keyRun, key digest, since int64) ([]int64, error) {
	some := false
	for _, r := range runs {
		if r.maxAt >= since {
			some = true
			break
		}
	}
	if !some || !g.mayHold(key) {
		return nil, nil
	}
	s.keys.runReads.Add(1)
	var rows *sql.Rows
	var err error
	if tx != nil {
		rows, err = s.ws.query(ctx, tx, qRunsBlocks, key[:], since)
	} else {
		rows, err = s.rs.queryDB(ctx, qRunsBlocks, key[:], since)
	}
	if err != nil {
		return nil, fmt.Errorf("dedupe runs: %w", err)
	}
	defer rows.Close()
	var seqs []int64
	for rows.Next() {
		var run int64
		var block []byte
		if err := rows.Scan(&run, &block); err != nil {
			return nil, fmt.Errorf("dedupe runs: %w", err)
		}
		if seq, ok := searchBlock(block, key); ok {
			seqs = append(seqs, seq)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dedupe runs: %w", err)
	}
	return seqs, nil
}

// runGlobal builds the global filter whenever it is asked to (at open,
// and when dropped runs made it stale), until ctx ends. A build that
// fails is tried again after a pause; lookups meanwhile use what there
// is (the runs' own filters, or the stale global filter: more false
// positives, never a missed key).
func (s *Store) runGlobal(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.keys.rebuild:
		}
		for {
			err := s.buildGlobal(ctx)
			if err == nil || ctx.Err() != nil {
				break
			}
			s.keys.log.Warn("dedupe index: building its filter failed; tried again in 5 s", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
		}
	}
}

const qRunKeys = `SELECT keys FROM dedupe_blocks WHERE run = ?`

// buildGlobal reads every run's keys into a new global filter and puts it
// in place of the old one (or of the runs' own filters). Runs written
// while it reads are read after; the run on its way to disk, whose keys a
// flush may have added only to the old filter, is added at the swap.
func (s *Store) buildGlobal(ctx context.Context) error {
	start := time.Now()
	g := newGlobal(s.keys.filterBytes)
	read := map[int64]bool{}
	for {
		s.keys.mu.Lock()
		var todo []int64
		for _, r := range s.keys.runs {
			if !read[r.id] {
				todo = append(todo, r.id)
			}
		}
		if len(todo) == 0 {
			if o := s.keys.out; o != nil {
				for _, e := range o.entries {
					g.add(e.k)
				}
				g.keys.Add(int64(len(o.entries)))
			}
			s.keys.global.Store(g)
			s.keys.dropRunFilters()
			s.keys.mu.Unlock()
			s.keys.log.Info("dedupe index: filter built", "keys", g.keys.Load(), "runs", len(read),
				"bytes", g.size(), "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		s.keys.mu.Unlock()
		for _, id := range todo {
			if err := s.readRunInto(ctx, g, id); err != nil {
				return err
			}
			read[id] = true
		}
	}
}

// readRunInto adds every key of run id to g.
func (s *Store) readRunInto(ctx context.Context, g *global, id int64) error {
	rows, err := s.rs.queryDB(ctx, qRunKeys, id)
	if err != nil {
		return fmt.Errorf("dedupe run %d: %w", id, err)
	}
	defer rows.Close()
	var block sql.RawBytes
	var entries []runEntry
	for rows.Next() {
		if err := rows.Scan(&block); err != nil {
			return fmt.Errorf("dedupe run %d: %w", id, err)
		}
		entries = decodeBlock(entries[:0], block)
		for _, e := range entries {
			g.add(e.k)
		}
		g.keys.Add(int64(len(entries)))
	}
	return rows.Err()
}

// dropRunFilters takes the runs' own filters out of memory once the
// global one stands for them; mu is held.
func (d *keydir) dropRunFilters() {
	for i, r := range d.runs {
		if r.filter != nil {
			bare := *r
			bare.filter = nil
			d.runs[i] = &bare
		}
	}
	d.publish()
}

// askRebuild has the global filter built (again) in the background.
func (d *keydir) askRebuild() {
	select {
	case d.rebuild <- struct{}{}:
	default:
	}
}
