package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// mergeAll merges runs until none is due and collects the garbage.
func mergeAll(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	for {
		merged, err := s.mergeOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !merged {
			break
		}
		n++
	}
	if err := s.collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantNoGarbage: every block belongs to a live run and every run row is
// live.
func wantNoGarbage(t *testing.T, s *Store) {
	t.Helper()
	var orphans, dead int
	if err := s.r.QueryRow(`SELECT count(*) FROM dedupe_blocks WHERE run NOT IN (SELECT run FROM dedupe_runs WHERE state = 1)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRow(`SELECT count(*) FROM dedupe_runs WHERE state != 1`).Scan(&dead); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 || dead != 0 {
		t.Fatalf("%d blocks of no live run, %d run rows not live: want the garbage collected", orphans, dead)
	}
}

// TestRunsMerge: 37 runs of 8 keys merge into a handful (tiers of 4); no
// key is lost or doubled, every key still answers its original (through
// the global filter and through the runs' own filters, after a restart),
// and what was merged is collected. On the build before, runs were never
// merged: a new key's false positive read a block of each of them.
func TestRunsMerge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s := openUnmerged(t, path)
	tinyBudget(s, 8, 1<<20)
	keys := keyList("k", 300)
	appendKeys(t, s, "first", keys, time.Now().UTC())
	flushAll(t, s)
	before, onDisk, _ := s.DedupeRuns()
	if before < 30 {
		t.Fatalf("%d runs before merging, want ~37", before)
	}
	merges := mergeAll(t, s)
	after, onDiskAfter, _ := s.DedupeRuns()
	if merges < 8 || after > 8 || onDiskAfter != onDisk {
		t.Fatalf("%d merges: %d runs of %d keys → %d runs of %d keys; want at most 8 runs, every key kept once",
			merges, before, onDisk, after, onDiskAfter)
	}
	wantNoGarbage(t, s)
	var rows int64
	if err := s.r.QueryRow(`SELECT sum(length(keys)) / 24 FROM dedupe_blocks`).Scan(&rows); err != nil || rows != onDisk {
		t.Fatalf("%d entries in blocks (%v), want %d", rows, err, onDisk)
	}
	for i := 1; i < len(s.keys.runs); i++ {
		if newer, older := s.keys.runs[i-1], s.keys.runs[i]; older.lastSeq >= newer.firstSeq {
			t.Fatalf("runs out of order: %d..%d before %d..%d", newer.firstSeq, newer.lastSeq, older.firstSeq, older.lastSeq)
		}
	}
	wantDuplicates(t, s, keys, "first")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openRunFilters(t, path)
	defer s.Close()
	if runs, _, _ := s.DedupeRuns(); runs != after {
		t.Fatalf("%d runs after a restart, want %d", runs, after)
	}
	wantDuplicates(t, s, keys, "first")
}

// TestMergeKeepsTheNewest: a key stored again once its original fell out
// of its window is in two runs; the merged run keeps the newer record,
// which is what the key answers within its window.
func TestMergeKeepsTheNewest(t *testing.T) {
	ctx := context.Background()
	s := openUnmerged(t, filepath.Join(t.TempDir(), "m.db"))
	defer s.Close()
	tinyBudget(s, 4, 1<<20)
	now := time.Now().UTC()
	rec := func(id string, at time.Time) bridge.NewRecord {
		return bridge.NewRecord{ID: id, Module: "m", SessionID: "s", Data: json.RawMessage(`{"n":1}`),
			ReceivedAt: at, DedupeKey: "w", DedupeSince: at.Add(-time.Minute)}
	}
	if _, err := s.Append(ctx, []bridge.NewRecord{rec("old", now.Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}
	appendKeys(t, s, "fill", keyList("a", 7), now.Add(-time.Hour))
	got, err := s.Append(ctx, []bridge.NewRecord{rec("new", now)})
	if err != nil || got[0].Duplicate {
		t.Fatalf("the key past its window: %+v, %v; want new stored", got, err)
	}
	appendKeys(t, s, "fill2", keyList("b", 11), now)
	flushAll(t, s)
	if merges := mergeAll(t, s); merges == 0 {
		t.Fatal("nothing merged")
	}
	got, err = s.Append(ctx, []bridge.NewRecord{rec("again", now.Add(time.Second))})
	if err != nil || !got[0].Duplicate || got[0].ID != "new" {
		t.Fatalf("after the merge the key answered %+v, %v; want a duplicate of new", got, err)
	}
}

// TestMergeCutShort: a run found being written at open (a merge or a
// flush the process did not finish) is garbage: collected, and no key is
// lost. A merge whose input was dropped meanwhile is garbage too.
func TestMergeCutShort(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	s := openUnmerged(t, path)
	tinyBudget(s, 8, 1<<20)
	keys := keyList("k", 64)
	appendKeys(t, s, "first", keys, time.Now().UTC())
	flushAll(t, s)
	runs, _, _ := s.DedupeRuns()

	// A merge whose oldest input goes (its records pruned) before it
	// swaps in.
	s.beforeSwap = func() {
		s.keys.mu.Lock()
		s.keys.forgetRuns(1)
		s.keys.mu.Unlock()
	}
	if merged, err := s.mergeOnce(ctx); err != nil || merged {
		t.Fatalf("mergeOnce = %v, %v; want it given up", merged, err)
	}
	s.beforeSwap = nil
	if now, _, _ := s.DedupeRuns(); now != runs-1 {
		t.Fatalf("%d runs, want %d (the dropped one gone, nothing merged)", now, runs-1)
	}
	if err := s.collect(ctx); err != nil {
		t.Fatal(err)
	}
	wantNoGarbage(t, s) // the given-up merge's blocks and row

	// A run being written when the store stops.
	if _, err := s.w.ExecContext(ctx, qBeginRun, 999, 1, 2, 0, 0, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, qInsertBlock, 999, []byte{0}, encodeBlock([]runEntry{{digestOf("zz"), 1}})); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openUnmerged(t, path)
	defer s.Close()
	if err := s.collect(ctx); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.r.QueryRow(`SELECT count(*) FROM dedupe_blocks WHERE run = 999`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d blocks of the cut-short run left (%v), want 0", left, err)
	}
	wantDuplicates(t, s, keys, "first")
}

// TestDurableCommits: under synchronous=FULL the write connection runs
// NORMAL and the store syncs the WAL itself: after every commit but a
// quiet step's (merges, collection) and AppendDeferred's, whose caller
// syncs. Nothing acknowledged is committed without an fsync.
func TestDurableCommits(t *testing.T) {
	ctx := context.Background()
	s := openUnmerged(t, filepath.Join(t.TempDir(), "q.db"))
	defer s.Close()
	var level int
	if err := s.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != 1 || !s.db.SyncsByCaller() {
		t.Fatalf("write connection at synchronous %d, store syncing itself %v; want 1 (NORMAL) and true", level, s.db.SyncsByCaller())
	}
	syncs := func(what string, want int64, fn func() error) {
		t.Helper()
		before := s.syncs.Load()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := s.syncs.Load() - before; got != want {
			t.Errorf("%s synced %d times, want %d", what, got, want)
		}
	}
	syncs("a quiet step", 0, func() error { return s.quietTx(ctx, func(*sql.Tx) error { return nil }) })
	if err := s.quietTx(ctx, func(tx *sql.Tx) error { return errors.New("step failed") }); err == nil {
		t.Fatal("a failed step reported no error")
	}
	recs := []bridge.NewRecord{keyedRecord("q1", "k1", time.Now())}
	syncs("AppendDeferred", 0, func() error { _, err := s.AppendDeferred(ctx, recs); return err })
	syncs("Sync", 1, func() error { return s.Sync(ctx) })
	syncs("Append", 1, func() error {
		_, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("q2", "k2", time.Now())})
		return err
	})
	syncs("AppendAudit", 1, func() error { return s.AppendAudit(ctx, bridge.AuditEntry{Action: "test"}) })
}
