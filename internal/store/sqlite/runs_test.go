package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// tinyBudget makes s freeze its memtable every memKeys keys and squeeze
// its filters into filterBytes.
func tinyBudget(s *Store, memKeys, filterBytes int) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	s.keys.memKeys, s.keys.filterBytes, s.keys.runFilterBytes = memKeys, filterBytes, filterBytes
	s.keys.fitFilters()
	if s.keys.global.Load() != nil {
		s.keys.global.Store(newGlobal(filterBytes)) // the store is empty
	}
}

// openRunFilters opens a store whose dedupe index asks each run's own
// filter (as it does after open until the global filter is built), and
// never merges its runs unless the test does.
func openRunFilters(t *testing.T, path string) *Store {
	t.Helper()
	return openOpts(t, path, Options{runFiltersOnly: true, noCompactor: true})
}

// openUnmerged opens a store that never merges its runs unless the test
// does.
func openUnmerged(t *testing.T, path string) *Store {
	t.Helper()
	return openOpts(t, path, Options{noCompactor: true})
}

func openOpts(t *testing.T, path string, o Options) *Store {
	t.Helper()
	s, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// flushAll writes any frozen memtable (the flusher may be at it too).
func flushAll(t *testing.T, s *Store) {
	t.Helper()
	if err := s.flush(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

// appendKeys appends one keyed record per key, one call each, and
// returns what each call answered.
func appendKeys(t *testing.T, s *Store, prefix string, keys []string, at time.Time) []bridge.Appended {
	t.Helper()
	var out []bridge.Appended
	for i, k := range keys {
		got, err := s.Append(context.Background(), []bridge.NewRecord{keyedRecord(fmt.Sprintf("%s-%d", prefix, i), k, at)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got[0])
		if len(s.keys.kick) == 0 { // the flusher took the kick: let it finish
			flushAll(t, s)
		}
	}
	return out
}

func keyList(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// wantDuplicates: every key of keys answers a duplicate of the record
// first stored with it (ids first-0, first-1, …).
func wantDuplicates(t *testing.T, s *Store, keys []string, first string) {
	t.Helper()
	at := time.Now().UTC()
	for i, a := range appendKeys(t, s, "again-"+first, keys, at) {
		if want := fmt.Sprintf("%s-%d", first, i); !a.Duplicate || a.ID != want {
			t.Fatalf("key %s answered %+v, want a duplicate of %s", keys[i], a, want)
		}
	}
}

// TestDedupeMemoryBounded: 1,000 keyed records with room in memory for
// 64 keys: memory holds at most two memtables of them (the rest are in
// runs on disk) before and after a restart, and every key still dedupes.
// On main every key stays in memory (1,000 keys).
func TestDedupeMemoryBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	s, err := Open(path, Options{DedupeMemory: 64 * keyBytes * 4, noCompactor: true})
	if err != nil {
		t.Fatal(err)
	}
	keys := keyList("k", 1000)
	appendKeys(t, s, "first", keys, time.Now().UTC())
	flushAll(t, s)
	if n := s.DedupeKeys(); n > 2*64 {
		t.Fatalf("%d keys in memory after 1,000 keyed records with room for 64, want at most 128", n)
	}
	runs, onDisk, _ := s.DedupeRuns()
	if runs < 10 || onDisk < 1000-128 {
		t.Fatalf("%d runs holding %d keys, want the keys written out", runs, onDisk)
	}
	wantDuplicates(t, s, keys, "first")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{DedupeMemory: 64 * keyBytes * 4, noCompactor: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := s.DedupeKeys(); n > 64 {
		t.Fatalf("%d keys read into memory at open, want only the unflushed tail (< 64)", n)
	}
	wantDuplicates(t, s, keys, "first")
}

// TestDedupeCrashMidFlush: a store killed while a run was half written
// (its keys there, its row not) and with keys not yet flushed reopens
// with the half run gone and every key, in runs or in the tail, deduping.
// Close writes nothing of the memtable, so closing is a crash for the
// index; the half run is written by hand.
func TestDedupeCrashMidFlush(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	s := openTest(t, path)
	tinyBudget(s, 8, 1<<20)
	keys := keyList("k", 30) // three runs of 8 and a tail of 6
	appendKeys(t, s, "first", keys, time.Now().UTC())
	flushAll(t, s)
	runs, _, _ := s.DedupeRuns()
	if runs != 3 || s.DedupeKeys() != 6 {
		t.Fatalf("%d runs, %d keys in memory; want 3 and 6", runs, s.DedupeKeys())
	}
	// A half-written fourth run claims "k-29" for a record that never was.
	half := digestOf("k-29")
	if _, err := s.w.ExecContext(ctx, `INSERT INTO dedupe_blocks (run, first, keys) VALUES (4, ?, ?), (4, x'00', x'00')`,
		half[:], encodeBlock([]runEntry{{half, 999}})); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path)
	defer s.Close()
	var orphans int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM dedupe_blocks WHERE run = 4`).Scan(&orphans); err != nil || orphans != 0 {
		t.Fatalf("%d keys of the half-written run left (%v), want 0", orphans, err)
	}
	if n := s.DedupeKeys(); n != 6 {
		t.Fatalf("%d keys in memory after reopening, want the 6 of the tail", n)
	}
	wantDuplicates(t, s, keys, "first")
}

// appendBatches appends one keyed record per key, batch keys a call,
// writing out what froze after each call.
func appendBatches(t *testing.T, s *Store, prefix string, keys []string, batch int, at time.Time) []bridge.Appended {
	t.Helper()
	var out []bridge.Appended
	for start := 0; start < len(keys); start += batch {
		var recs []bridge.NewRecord
		for i := start; i < min(start+batch, len(keys)); i++ {
			recs = append(recs, keyedRecord(fmt.Sprintf("%s-%d", prefix, i), keys[i], at))
		}
		got, err := s.Append(context.Background(), recs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
		flushAll(t, s)
	}
	return out
}

// TestDedupeFilterFalsePositives: filters squeezed to one block (each
// run's, or the global one) say "maybe" to most keys; new keys are still
// stored, old ones still answered as duplicates of the right record.
func TestDedupeFilterFalsePositives(t *testing.T) {
	for _, global := range []bool{false, true} {
		t.Run(fmt.Sprint("global=", global), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.db")
			s := openRunFilters(t, path)
			if global {
				s.Close()
				s = openUnmerged(t, path)
			}
			defer s.Close()
			tinyBudget(s, 200, 8)
			keys := keyList("k", 2000)
			appendBatches(t, s, "first", keys, 100, time.Now().UTC())
			runs, _, filterBytes := s.DedupeRuns()
			mayHold := func(d digest) bool { return s.keys.runs[0].filter.mayHold(d) }
			if global {
				if runs < 9 || filterBytes != 64 || s.keys.runs[0].filter != nil {
					t.Fatalf("%d runs with %d bytes of filters, want one block (64 bytes) for all", runs, filterBytes)
				}
				mayHold = s.keys.global.Load().mayHold
			} else if runs < 9 || filterBytes != 64*runs {
				t.Fatalf("%d runs with %d bytes of filters, want one block (64 bytes) each", runs, filterBytes)
			}
			var maybe int
			for _, k := range keyList("new", 100) {
				if mayHold(digestOf(k)) {
					maybe++
				}
			}
			if maybe < 30 {
				t.Fatalf("a one-block filter said maybe to %d of 100 new keys: the test needs false positives", maybe)
			}
			for i, a := range appendBatches(t, s, "new", keyList("new", 100), 100, time.Now().UTC()) {
				if a.Duplicate || a.ID != fmt.Sprintf("new-%d", i) {
					t.Fatalf("new key %d answered %+v, want it stored", i, a)
				}
			}
			for i, a := range appendBatches(t, s, "again", keys, 500, time.Now().UTC()) {
				if want := fmt.Sprintf("first-%d", i); !a.Duplicate || a.ID != want {
					t.Fatalf("key %s answered %+v, want a duplicate of %s", keys[i], a, want)
				}
			}
		})
	}
}

// TestBloom: no key added is ever missed, after marshalling and after
// folding down to one block; a malformed blob is refused.
func TestBloom(t *testing.T) {
	b := newBloom(1000)
	for i := range 1000 {
		b.add(digestOf(fmt.Sprint("k", i)))
	}
	var fp int
	for i := range 10000 {
		if b.mayHold(digestOf(fmt.Sprint("other", i))) {
			fp++
		}
	}
	if fp > 300 {
		t.Fatalf("%d false positives in 10,000 at 10 bits a key, want about 1%%", fp)
	}
	for {
		c, err := unmarshalBloom(b.marshal())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			if !c.mayHold(digestOf(fmt.Sprint("k", i))) {
				t.Fatalf("k%d missed by a filter of %d bytes", i, c.size())
			}
		}
		f := b.folded()
		if f == b {
			break
		}
		b = f
	}
	if b.size() != 64 {
		t.Fatalf("folded down to %d bytes, want one block", b.size())
	}
	for _, bad := range [][]byte{nil, {1, 7}, append([]byte{0, 7}, make([]byte, 64)...), append([]byte{1, 7}, make([]byte, 3*64)...)} {
		if _, err := unmarshalBloom(bad); err == nil {
			t.Fatalf("unmarshalBloom(%d bytes) accepted", len(bad))
		}
	}
}

// TestDedupeAfterPrune: a key whose record was pruned is stored again
// (the run that still names the pruned record does not make a duplicate
// of nothing), the new record is what the key answers from then on, even
// after it too is flushed and the store restarts; and a run whose records
// are all gone is dropped with its keys.
func TestDedupeAfterPrune(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	s := openUnmerged(t, path)
	tinyBudget(s, 4, 1<<20)
	at := time.Now().UTC().Truncate(time.Microsecond)
	appendKeys(t, s, "old", keyList("k", 8), at) // two runs of 4
	flushAll(t, s)
	if runs, _, _ := s.DedupeRuns(); runs != 2 {
		t.Fatalf("%d runs, want 2", runs)
	}
	// k-0 (in the oldest run) is synced and pruned.
	if _, err := s.w.ExecContext(ctx, `UPDATE records SET state = 1, synced_at = 1 WHERE id = 'old-0'`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, bridge.PruneParams{SyncedBefore: at, Limit: 10}); err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want 1", n, err)
	}
	if runs, _, _ := s.DedupeRuns(); runs != 2 {
		t.Fatalf("%d runs after pruning one record of the oldest, want 2 (three of its records are left)", runs)
	}
	if got := appendKeys(t, s, "new", []string{"k-0"}, at); got[0].Duplicate || got[0].ID != "new-0" {
		t.Fatalf("k-0 after its record was pruned answered %+v, want new-0 stored", got[0])
	}
	tinyBudget(s, 1, 1<<20) // the next key freezes mem with new-0 in it
	appendKeys(t, s, "next", []string{"k-100"}, at)
	flushAll(t, s)
	if got := appendKeys(t, s, "again", []string{"k-0"}, at); !got[0].Duplicate || got[0].ID != "new-0" {
		t.Fatalf("k-0 answered %+v, want a duplicate of new-0", got[0])
	}
	// The oldest run's other records go: the run goes with them.
	if _, err := s.w.ExecContext(ctx, `UPDATE records SET state = 1, synced_at = 1 WHERE id IN ('old-1', 'old-2', 'old-3')`); err != nil {
		t.Fatal(err)
	}
	before, _, _ := s.DedupeRuns()
	if _, err := s.Prune(ctx, bridge.PruneParams{SyncedBefore: at, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if err := s.collect(ctx); err != nil { // the compactor's part
		t.Fatal(err)
	}
	after, _, _ := s.DedupeRuns()
	var left int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM dedupe_blocks WHERE run = 1`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if after != before-1 || left != 0 {
		t.Fatalf("runs %d → %d, %d keys of run 1 left; want the oldest run dropped", before, after, left)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openUnmerged(t, path)
	defer s.Close()
	if got := appendKeys(t, s, "restarted", []string{"k-0", "k-1", "k-5"}, at); !got[0].Duplicate || got[0].ID != "new-0" ||
		got[1].Duplicate || !got[2].Duplicate || got[2].ID != "old-5" {
		t.Fatalf("after restart k-0, k-1, k-5 answered %+v; want a duplicate of new-0, a new record, a duplicate of old-5", got)
	}
}

// TestSearchBlock: every key of a block is found with its seq, and keys
// between, before and after them are not.
func TestSearchBlock(t *testing.T) {
	var entries []runEntry
	for i := range blockKeys {
		entries = append(entries, runEntry{digestOf(fmt.Sprint("k", i)), int64(1000 + i)})
	}
	slices.SortFunc(entries, func(a, b runEntry) int { return bytes.Compare(a.k[:], b.k[:]) })
	block := encodeBlock(entries)
	for _, e := range entries {
		if seq, ok := searchBlock(block, e.k); !ok || seq != e.seq {
			t.Fatalf("searchBlock(%x) = %d, %v; want %d", e.k, seq, ok, e.seq)
		}
		e.k[15]++ // not in the block (but by a 2^-128 chance)
		if _, ok := searchBlock(block, e.k); ok {
			t.Fatalf("searchBlock found %x, which is not in the block", e.k)
		}
	}
	if _, ok := searchBlock(block, digest{}); ok {
		t.Fatal("searchBlock found the zero digest")
	}
}

// TestRunNeverInventsDuplicates: a run entry pointing a key at another
// key's record (and a filter that says maybe to everything) stores the
// new record rather than acknowledging it as somebody else's.
func TestRunNeverInventsDuplicates(t *testing.T) {
	for _, global := range []bool{false, true} {
		t.Run(fmt.Sprint("global=", global), func(t *testing.T) { testRunNeverInventsDuplicates(t, global) })
	}
}

func testRunNeverInventsDuplicates(t *testing.T, global bool) {
	ctx := context.Background()
	s := openRunFilters(t, filepath.Join(t.TempDir(), "k.db"))
	if global {
		s.Close()
		s = openTest(t, filepath.Join(t.TempDir(), "k.db"))
	}
	defer s.Close()
	tinyBudget(s, 1, 1<<20)
	appendKeys(t, s, "a", []string{"ka"}, time.Now().UTC())
	flushAll(t, s)
	if len(s.keys.runs) != 1 {
		t.Fatalf("%d runs, want 1", len(s.keys.runs))
	}
	r := s.keys.runs[0]
	if g := s.keys.global.Load(); global {
		for i := range g.words {
			g.words[i] = ^uint64(0)
		}
	} else {
		for i := range r.filter.words {
			r.filter.words[i] = ^uint64(0)
		}
	}
	kb := digestOf("kb")
	var seqA int64
	if err := s.r.QueryRowContext(ctx, `SELECT seq FROM records WHERE id = 'a-0'`).Scan(&seqA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO dedupe_blocks (run, first, keys) VALUES (?, ?, ?)`,
		r.id, kb[:], encodeBlock([]runEntry{{kb, seqA}})); err != nil {
		t.Fatal(err)
	}
	if got := appendKeys(t, s, "b", []string{"kb"}, time.Now().UTC()); got[0].Duplicate || got[0].ID != "b-0" {
		t.Fatalf("Append = %+v, want b-0 stored", got[0])
	}
}

// TestFlushRidesOnCommits: with the flusher stopped, group commits alone
// write a prepared run out (flushPerRecord keys per record stored, in
// whole blocks), and it then answers for its keys.
func TestFlushRidesOnCommits(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "k.db"))
	defer s.Close()
	s.stop()
	<-s.stopped
	tinyBudget(s, 300, 1<<20)
	at := time.Now().UTC()
	appendKeys(t, s, "first", keyList("k", 300), at)
	if !s.prepareFlush() {
		t.Fatal("nothing frozen after 300 keys with room for 300")
	}
	var recs []bridge.NewRecord
	for i := range 60 {
		recs = append(recs, keyedRecord(fmt.Sprintf("later-%d", i), "", at))
	}
	for i := range 3 { // a commit of 20 records writes 40 keys: one block of 128
		if runs, _, _ := s.DedupeRuns(); runs != 0 {
			t.Fatalf("a run after %d commits, want it after 3 (300 keys, a block of 128 a commit)", i)
		}
		if _, err := s.Append(context.Background(), recs[20*i:20*i+20]); err != nil {
			t.Fatal(err)
		}
	}
	if runs, onDisk, _ := s.DedupeRuns(); runs != 1 || onDisk != 300 || s.DedupeKeys() != 0 {
		t.Fatalf("%d runs of %d keys, %d in memory; want the 300 keys in one run", runs, onDisk, s.DedupeKeys())
	}
	wantDuplicates(t, s, keyList("k", 300), "first")
}

// TestDedupeBatchAcrossFreeze: one group commit whose keys fill the
// memtable part way through: every key is in the run or after it, so all
// of them still dedupe after a restart. (Keys were added in map order, so
// a later record's key could go into the frozen run and an earlier one's
// into the new memtable, below the run's last seq, where open never
// looked: lost at restart.)
func TestDedupeBatchAcrossFreeze(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	s := openTest(t, path)
	tinyBudget(s, 8, 1<<20)
	at := time.Now().UTC()
	keys := keyList("k", 50)
	var recs []bridge.NewRecord
	for i, k := range keys {
		recs = append(recs, keyedRecord(fmt.Sprintf("first-%d", i), k, at))
	}
	if _, err := s.Append(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	flushAll(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path)
	defer s.Close()
	wantDuplicates(t, s, keys, "first")
}

// TestDedupeOverBudgetIsLogged: keys coming in while a run is still being
// written push memory past the budget: one WARN however long it lasts,
// one INFO once the run is written.
func TestDedupeOverBudgetIsLogged(t *testing.T) {
	var logs bytes.Buffer
	s, err := Open(filepath.Join(t.TempDir(), "k.db"), Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.stop() // nothing writes the frozen keys until flushAll
	<-s.stopped
	tinyBudget(s, 8, 1<<20)
	at := time.Now().UTC()
	for i := range 4 {
		for j, k := range keyList(fmt.Sprint("k", i), 8) {
			if _, err := s.Append(context.Background(), []bridge.NewRecord{keyedRecord(fmt.Sprintf("r%d-%d", i, j), k, at)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"dedupe index over its memory budget"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs.String())
	}
	flushAll(t, s)
	if !strings.Contains(logs.String(), "level=INFO msg=\"dedupe index back within its memory budget") {
		t.Fatalf("no INFO after the run was written:\n%s", logs.String())
	}
}

// TestRunsOlderThanTheWindowAreSkipped: a lookup whose DedupeSince is
// after every record of a run does not read that run (its originals
// could not count), and the records are stored as new; within the
// window, the same keys are read from the runs and are duplicates.
func TestRunsOlderThanTheWindowAreSkipped(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "k.db"))
	defer s.Close()
	tinyBudget(s, 4, 1<<20)
	at := time.Now().UTC().Truncate(time.Microsecond)
	keys := keyList("k", 8)
	appendKeys(t, s, "old", keys, at) // two runs of 4
	flushAll(t, s)
	if runs, _, _ := s.DedupeRuns(); runs != 2 {
		t.Fatalf("%d runs, want 2", runs)
	}
	resend := func(prefix string, since time.Time) []bridge.Appended {
		var out []bridge.Appended
		for i, k := range keys[:4] {
			r := keyedRecord(fmt.Sprintf("%s-%d", prefix, i), k, at.Add(time.Hour))
			r.DedupeSince = since
			got, err := s.Append(ctx, []bridge.NewRecord{r})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, got[0])
		}
		return out
	}
	before := s.keys.runReads.Load()
	for _, a := range resend("in", at) { // the window reaches back to at
		if !a.Duplicate {
			t.Fatalf("within the window: %+v, want a duplicate", a)
		}
	}
	if s.keys.runReads.Load() == before {
		t.Fatal("within the window no run was read; the test needs the keys to be in runs")
	}
	before = s.keys.runReads.Load()
	for _, a := range resend("out", at.Add(time.Minute)) { // every original is older
		if a.Duplicate {
			t.Fatalf("outside the window: %+v, want a new record", a)
		}
	}
	if n := s.keys.runReads.Load() - before; n != 0 {
		t.Errorf("outside the window %d run blocks were read, want 0 (the runs end before DedupeSince)", n)
	}
}
