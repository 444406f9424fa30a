package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// digest is what memory keeps of a dedupe key: 16 bytes. The keys ingest
// makes (bridge.Update.DedupeKey) are 32 hex digits, which decode to
// exactly that; any other key is hashed (sha256, first 16 bytes). Two
// different keys share a digest only by chance, at about 2^-128.
type digest [16]byte

func digestOf(key string) digest {
	var d digest
	if len(key) == 2*len(d) && isLowerHex(key) {
		if _, err := hex.Decode(d[:], []byte(key)); err == nil {
			return d
		}
	}
	sum := sha256.Sum256([]byte(key))
	copy(d[:], sum[:])
	return d
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// keydir is the dedupe index, which absorbs duplicates: for each stored
// key, the seq of the latest record holding it. A unique index in SQLite
// did the same job, but its keys are random, so every record of a commit
// dirtied a page of its own, and ingest slowed as the store grew; a map of
// every key made memory and open time grow with the store instead. So the
// index is an LSM-like one (runs.go):
//   - mem, the recent keys, in a map bounded by the budget (memKeys);
//   - frozen, a full mem being written to disk by the flusher;
//   - runs, the written ones, newest first: their keys sorted on disk in
//     dedupe_blocks, a Bloom filter of each in memory (all filters bounded
//     by the budget too, folded when they outgrow it).
//
// A lookup asks mem, frozen, then each run whose filter says maybe; every
// hit is confirmed by reading the record (original), so a stale entry can
// never make a new record a duplicate of nothing. The keys stay in
// records.dedupe_key, written with the record: a crash loses only mem and
// frozen, rebuilt at open from the records after the last run's seq.
// Writes that add or delete records hold mu across their transaction:
// they share one write connection anyway, so mu adds no wait.
type keydir struct {
	mu     sync.Mutex
	mem    *memtable
	frozen *memtable // nil unless a flush is under way
	out    *outbound // frozen, sorted, on its way to disk (nil before and after)
	// lastStep is when a group commit last wrote a step of out.
	lastStep time.Time
	log      *slog.Logger
	behind   bool      // mem filled again before frozen was written: logged once
	runs     []*keyRun // newest first
	next     int64     // id of the next run (written or merged)
	version  uint64    // of runs: counts the runs added to it
	// view is runs as probes (ProbeDedupe) see them, without mu: a copy
	// published after every change. A published keyRun is never changed
	// (a fold makes a new one), so probes read filters without a lock.
	view atomic.Pointer[runView]
	// global, once built, stands for the runs' own filters (global.go).
	global  atomic.Pointer[global]
	rebuild chan struct{} // asks runGlobal for a build
	compact chan struct{} // asks runCompactor to look for work

	memKeys     int // mem is frozen at this many keys
	filterBytes int // the filters' budget: the global filter's size
	// runFilterBytes bounds the runs' own filters, which answer only
	// until the global filter is built after open: a quarter of it.
	runFilterBytes int
	kick           chan struct{}
	runReads       atomic.Int64 // index blocks read from runs (for tests)
}

// runView is the runs at one moment, newest first, and the version of
// the list then: a run added later (written, or merged from others) has
// a higher keyRun.added.
type runView struct {
	runs    []*keyRun
	version uint64
}

// publish makes the runs as they are now what probes see; mu is held.
func (d *keydir) publish() {
	d.view.Store(&runView{runs: slices.Clone(d.runs), version: d.version})
}

// memtable is a map of keys and what its records span. The map holds no
// pointers, so the garbage collector does not walk it: ~40 bytes a key.
type memtable struct {
	keys         map[digest]int64
	firstSeq     int64 // 0 when empty
	lastSeq      int64
	minAt, maxAt int64 // received_at, unix microseconds
}

func newMemtable() *memtable { return &memtable{keys: map[digest]int64{}} }

func (t *memtable) add(k digest, seq, at int64) {
	t.keys[k] = seq
	if t.firstSeq == 0 || seq < t.firstSeq {
		t.firstSeq = seq
	}
	t.lastSeq = max(t.lastSeq, seq)
	if t.minAt == 0 || at < t.minAt {
		t.minAt = at
	}
	t.maxAt = max(t.maxAt, at)
}

// keyBytes is what a key costs in a map (its 24-byte slot, the map's
// spare room and control bytes), for the budget.
const keyBytes = 48

// DefaultDedupeMemory is Options.DedupeMemory's default: 3/8 for the
// recent keys (up to two maps of them while one is written), 5/8 for the
// global filter of the keys on disk (20 MiB: ~17 bits a key, 0.08% false
// positives, at ten million keys; half of it gave 0.24%, and at 15M keys
// its false positives were 7% of serve's CPU). For a few seconds after
// open the runs' own filters take another 1/8 (runFilterBytes).
const DefaultDedupeMemory = 32 << 20

func newKeydir(budget int64, log *slog.Logger) keydir {
	if budget <= 0 {
		budget = DefaultDedupeMemory
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return keydir{
		log:            log,
		mem:            newMemtable(),
		memKeys:        max(int(budget*3/16/keyBytes), 64),
		filterBytes:    max(int(budget*5/8), 64),
		runFilterBytes: max(int(budget/8), 64),
		kick:           make(chan struct{}, 1),
		rebuild:        make(chan struct{}, 1),
		compact:        make(chan struct{}, 1),
	}
}

// add records a committed key; a full mem is handed to the flusher. Keys
// come in seq order, so every key of frozen is older than every key of
// the new mem, and opening reads only the records after the last run.
func (d *keydir) add(k digest, seq, at int64) {
	d.mem.add(k, seq, at)
	if len(d.mem.keys) >= d.memKeys && d.frozen != nil && !d.behind {
		d.behind = true
		d.log.Warn("dedupe index over its memory budget: keys come faster than they are written to disk",
			"keys_in_memory", len(d.mem.keys)+len(d.frozen.keys), "budget_keys", 2*d.memKeys)
	}
	if len(d.mem.keys) >= d.memKeys && d.frozen == nil {
		d.frozen, d.mem = d.mem, newMemtable()
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
}

// advance records a committed flush step: pos keys of the run on its way
// out are written, and if done its row too, so it is a run from now on.
func (d *keydir) advance(pos int, done bool) {
	if d.out == nil {
		return
	}
	d.out.pos = pos
	d.lastStep = time.Now()
	if done {
		run := d.out.run
		if d.global.Load() != nil { // it holds the run's keys
			bare := *run
			bare.filter = nil
			run = &bare
		}
		d.version++
		run.added = d.version
		d.runs = append([]*keyRun{run}, d.runs...)
		d.askCollect() // a merge may be due
		d.frozen, d.out = nil, nil
		d.fitFilters()
		if d.behind {
			d.behind = false
			d.log.Info("dedupe index back within its memory budget", "keys_in_memory", len(d.mem.keys))
		}
	}
}

// candidates are the seqs key may point to, newest first, from memory;
// the runs are asked by lookup.
func (d *keydir) inMemory(k digest) []int64 {
	var out []int64
	if seq, ok := d.mem.keys[k]; ok {
		out = append(out, seq)
	}
	if d.frozen != nil {
		if seq, ok := d.frozen.keys[k]; ok {
			out = append(out, seq)
		}
	}
	return out
}

const (
	qLoadTail = `SELECT seq, dedupe_key, received_at FROM records WHERE seq > ? AND dedupe_key IS NOT NULL ORDER BY seq`
)

// DedupeKeys is how many dedupe keys the store holds in memory (the
// others are in runs on disk: DedupeRuns).
func (s *Store) DedupeKeys() int {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	n := len(s.keys.mem.keys)
	if s.keys.frozen != nil {
		n += len(s.keys.frozen.keys)
	}
	return n
}

// DedupeRuns is how many runs of dedupe keys the store has on disk, how
// many keys they hold, and the bytes of their filters in memory.
func (s *Store) DedupeRuns() (runs int, keys int64, filterBytes int) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	for _, r := range s.keys.runs {
		keys += r.keys
		if r.filter != nil {
			filterBytes += r.filter.size()
		}
	}
	if g := s.keys.global.Load(); g != nil {
		filterBytes += g.size()
	}
	return len(s.keys.runs), keys, filterBytes
}

// loadTail reads the keys of the records that no run covers (those stored
// since the last flush) into mem, writing a run whenever mem fills, so a
// store that never flushed (one made before runs) opens within the budget.
func (s *Store) loadTail(ctx context.Context) error {
	after := int64(0)
	if len(s.keys.runs) > 0 {
		after = s.keys.runs[0].lastSeq
	}
	for {
		full, last, err := s.loadTailFrom(ctx, after)
		if err != nil {
			return fmt.Errorf("load dedupe keys: %w", err)
		}
		if !full {
			return nil
		}
		s.keys.frozen, s.keys.mem = s.keys.mem, newMemtable()
		if err := s.flush(ctx, 0); err != nil {
			return err
		}
		after = last
	}
}

// loadTailFrom adds the keys after seq to mem until it is full.
func (s *Store) loadTailFrom(ctx context.Context, after int64) (full bool, last int64, err error) {
	rows, err := s.w.QueryContext(ctx, qLoadTail, after)
	if err != nil {
		return false, 0, err
	}
	defer rows.Close()
	var seq, at int64
	var key sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&seq, &key, &at); err != nil {
			return false, 0, err
		}
		s.keys.mem.add(digestOf(string(key)), seq, at)
		if len(s.keys.mem.keys) >= s.keys.memKeys {
			return true, seq, nil
		}
	}
	return false, seq, rows.Err()
}

// keyAt is a deleted record's key, for drop.
type keyAt struct {
	key digest
	seq int64
}

// deleteRecords runs q, a DELETE on records that returns module, seq and
// dedupe_key. It adds the deleted records per module to perModule and
// returns their keys, for drop once the transaction commits.
func deleteRecords(ctx context.Context, tx *sql.Tx, perModule map[string]int64, floor bool, q string, args ...any) ([]keyAt, error) {
	rows, err := tx.QueryContext(ctx, q+` RETURNING module, seq, dedupe_key, id, prev_hash, skip_from`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []keyAt
	deleted := map[string][]goneRec{}
	for rows.Next() {
		var module string
		var g goneRec
		var key sql.NullString
		if err := rows.Scan(&module, &g.seq, &key, &g.id, &g.prev, &g.skip); err != nil {
			return nil, err
		}
		perModule[module]++
		if key.Valid {
			keys = append(keys, keyAt{digestOf(key.String), g.seq})
		}
		deleted[module] = append(deleted[module], g)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return keys, stepOver(ctx, tx, deleted, floor)
}

// drop forgets the keys of committed deletions from memory. A key that
// now points to another record (stored again after its original went)
// stays. Runs keep theirs until the whole run goes (dropRuns): a lookup
// that finds a deleted record there reads on.
func (d *keydir) drop(keys []keyAt) {
	for _, k := range keys {
		for _, t := range []*memtable{d.mem, d.frozen} {
			if t != nil && t.keys[k.key] == k.seq {
				delete(t.keys, k.key)
			}
		}
	}
}
