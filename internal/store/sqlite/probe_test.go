package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// probed is one record with key, probed by p and then appended to s.
func probedAppend(t *testing.T, p, s *Store, id, key string) (bridge.Appended, int64) {
	t.Helper()
	recs := []bridge.NewRecord{keyedRecord(id, key, time.Now().UTC())}
	p.ProbeDedupe(context.Background(), recs)
	before := s.keys.runReads.Load()
	got, err := s.Append(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	return got[0], s.keys.runReads.Load() - before
}

// TestProbeTakesRunsOffTheCommit: a key probed ahead of Append (as ingest
// does before a request queues) is found in its run without the commit
// reading a block of any run; keys that moved to a run after the probe,
// and probes of another store, are still found by the commit itself.
func TestProbeTakesRunsOffTheCommit(t *testing.T) {
	s := openUnmerged(t, filepath.Join(t.TempDir(), "p.db")) // a merge is asked again
	defer s.Close()
	tinyBudget(s, 8, 1<<20)
	keys := keyList("k", 40) // five runs of 8
	appendKeys(t, s, "first", keys, time.Now().UTC())
	flushAll(t, s)
	if runs, _, _ := s.DedupeRuns(); runs < 4 {
		t.Fatalf("%d runs, want at least 4", runs)
	}
	for i, k := range keys[:32] { // all in runs
		recs := []bridge.NewRecord{keyedRecord("x", k, time.Now().UTC())}
		s.ProbeDedupe(context.Background(), recs)
		p, ok := recs[0].Probe.(*probe)
		if !ok || len(p.seqs) != 1 {
			t.Fatalf("probe of %s: %+v, want one seq found in the runs", k, recs[0].Probe)
		}
		a, reads := probedAppend(t, s, s, fmt.Sprint("again-", i), k)
		if !a.Duplicate || a.ID != fmt.Sprint("first-", i) {
			t.Fatalf("key %s answered %+v, want a duplicate of first-%d", k, a, i)
		}
		if reads != 0 {
			t.Fatalf("the commit read %d blocks for a probed key, want 0", reads)
		}
	}

	// Probed while in memory, then written out as a run before the commit.
	late := "late"
	if _, err := s.Append(context.Background(), []bridge.NewRecord{keyedRecord("late-0", late, time.Now().UTC())}); err != nil {
		t.Fatal(err)
	}
	recs := []bridge.NewRecord{keyedRecord("late-1", late, time.Now().UTC())}
	s.ProbeDedupe(context.Background(), recs)
	appendKeys(t, s, "more", keyList("more", 16), time.Now().UTC())
	flushAll(t, s)
	if p := recs[0].Probe.(*probe); s.keys.view.Load().version <= p.version {
		t.Fatalf("no run added after the probe (version %d, then %d)", p.version, s.keys.view.Load().version)
	}
	if s.DedupeKeys() > 8 || len(s.keys.mem.keys) > 0 && s.keys.mem.keys[digestOf(late)] != 0 {
		t.Fatal("the key stayed in memory; the test needs it in a run")
	}
	got, err := s.Append(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].Duplicate || got[0].ID != "late-0" {
		t.Fatalf("a key written to a run after its probe answered %+v, want a duplicate of late-0", got[0])
	}

	// Another store's probe (it has no runs) is not taken for this one's.
	other := openTest(t, filepath.Join(t.TempDir(), "o.db"))
	defer other.Close()
	a, reads := probedAppend(t, other, s, "again-from-other", keys[3])
	if !a.Duplicate || a.ID != "first-3" || reads == 0 {
		t.Fatalf("with another store's probe: %+v after %d block reads, want a duplicate of first-3 looked up in full", a, reads)
	}
}

// TestProbeRace: producers probe while the commit appends, runs are
// written and filters fold (a budget that folds at every run); every
// resend is answered as the duplicate of its original and every new key
// is stored once. Run with -race.
func TestProbeRace(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "r.db"))
	defer s.Close()
	tinyBudget(s, 16, 256)
	var mu sync.Mutex // one committer, as ingest's writer
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				key := fmt.Sprintf("w%d-%d", w, i)
				for try := range 2 {
					recs := []bridge.NewRecord{keyedRecord(fmt.Sprintf("%s-%d", key, try), key, time.Now().UTC())}
					s.ProbeDedupe(context.Background(), recs)
					mu.Lock()
					got, err := s.Append(context.Background(), recs)
					mu.Unlock()
					if err != nil {
						t.Error(err)
						return
					}
					if try == 1 && (!got[0].Duplicate || got[0].ID != key+"-0") {
						t.Errorf("resend of %s answered %+v, want a duplicate of %s-0", key, got[0], key)
						return
					}
					if try == 0 && got[0].Duplicate {
						t.Errorf("new key %s answered a duplicate of %s", key, got[0].ID)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if runs, _, _ := s.DedupeRuns(); runs < 4 {
		t.Fatalf("%d runs: the test wants probes racing with runs being written", runs)
	}
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM records`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4*60 {
		t.Fatalf("%d records stored, want %d (one per key)", n, 4*60)
	}
}
