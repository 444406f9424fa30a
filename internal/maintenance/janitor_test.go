package maintenance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/maintenance"
	"corebridge/internal/store/sqlite"
)

func newStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// appendRecs stores one record per module named, received at at, and
// returns their ids.
func appendRecs(t *testing.T, st bridge.Store, at time.Time, start int, modules ...string) []string {
	t.Helper()
	n := map[string]int{}
	recs := make([]bridge.NewRecord, len(modules))
	ids := make([]string, len(modules))
	for i, m := range modules {
		ids[i] = fmt.Sprintf("%s-%04d", m, start+n[m])
		n[m]++
		recs[i] = bridge.NewRecord{ID: ids[i], Module: m, SessionID: "s1",
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), ReceivedAt: bridge.Truncate(at)}
	}
	if _, err := st.Append(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return ids
}

// deliverAll leases every due module named in outcomes at now and settles
// it as a delivery with that outcome would: ok syncs, rejected
// dead-letters, failed retries in an hour; each records one attempt.
func deliverAll(t *testing.T, st bridge.Store, now time.Time, outcomes map[string]string) {
	t.Helper()
	ctx := context.Background()
	for {
		l, err := st.Lease(ctx, bridge.LeaseParams{Owner: "test", Now: now, TTL: time.Minute, MaxRecords: 500})
		if err != nil {
			t.Fatal(err)
		}
		if l == nil {
			return
		}
		outcome, ok := outcomes[l.Module]
		if !ok {
			t.Fatalf("leased module %s, not one of %v", l.Module, outcomes)
		}
		s := bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: now, Attempt: &bridge.Attempt{At: now, Module: l.Module,
			LeaseID: l.ID, FirstSeq: l.Records[0].Seq, LastSeq: l.Records[len(l.Records)-1].Seq, Records: len(l.Records), Outcome: outcome}}
		for _, r := range l.Records {
			switch outcome {
			case bridge.AttemptOK:
				s.Synced = append(s.Synced, r.ID)
			case bridge.AttemptRejected:
				s.Dead = append(s.Dead, bridge.DeadMark{ID: r.ID, Reason: "bad batch"})
			default:
				s.Retry, s.RetryAt, s.Error = append(s.Retry, r.ID), now.Add(time.Hour), "network"
			}
		}
		if err := st.Settle(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
}

func get(t *testing.T, st bridge.Store, id string) bridge.Record {
	t.Helper()
	r, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return r
}

func attempts(t *testing.T, st bridge.Store, id string) []bridge.Attempt {
	t.Helper()
	a, err := st.Attempts(context.Background(), id)
	if err != nil {
		t.Fatalf("attempts of %s: %v", id, err)
	}
	return a
}

func TestJanitorPrunesSyncedPastRetention(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := appendRecs(t, st, t0, 0, "old", "old")
	dead := appendRecs(t, st, t0, 0, "dead")[0]
	pending := appendRecs(t, st, t0, 0, "pend")[0]
	fresh := appendRecs(t, st, t0.Add(2*time.Hour), 0, "new")[0]
	// What the forwarder would leave: old synced at t0, dead dead-lettered
	// and pend retried (each with an attempt at t0); new synced and pend
	// retried again at t0+2h.
	deliverAll(t, st, t0, map[string]string{"old": bridge.AttemptOK, "dead": bridge.AttemptRejected, "pend": bridge.AttemptFailed})
	deliverAll(t, st, t0.Add(2*time.Hour), map[string]string{"new": bridge.AttemptOK, "pend": bridge.AttemptFailed})
	for id, want := range map[string]bridge.State{old[0]: bridge.StateSynced, old[1]: bridge.StateSynced,
		dead: bridge.StateDead, pending: bridge.StatePending, fresh: bridge.StateSynced} {
		if r := get(t, st, id); r.State != want {
			t.Fatalf("setup: %s is %s, want %s", id, r.State, want)
		}
	}

	now := t0.Add(7*24*time.Hour + time.Hour) // cutoff t0+1h: after old's sync, before new's
	// Real time passes with the wall clock here: the monotonic clock
	// follows it (the janitor moves its cutoff no faster than that).
	j, err := maintenance.NewJanitor(st, nil, maintenance.JanitorConfig{Retention: 7 * 24 * time.Hour,
		Now: func() time.Time { return now }, Mono: func() time.Duration { return now.Sub(t0) }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := j.RunOnce(ctx)
	if err != nil || n != 2 {
		t.Fatalf("RunOnce pruned %d (%v), want the 2 records synced before the cutoff", n, err)
	}
	for _, id := range old {
		if _, err := st.Get(ctx, id); bridge.ErrorCode(err) != bridge.ENOTFOUND {
			t.Errorf("%s: %v, want not found after pruning", id, err)
		}
	}
	for id, want := range map[string]bridge.State{dead: bridge.StateDead, pending: bridge.StatePending, fresh: bridge.StateSynced} {
		if r := get(t, st, id); r.State != want {
			t.Errorf("%s: %s, want kept as %s", id, r.State, want)
		}
	}
	// Attempt history of the same age goes, but a dead letter keeps its
	// whole history until it is replayed or purged; the newer stays.
	if a := attempts(t, st, dead); len(a) != 1 {
		t.Errorf("dead record keeps %d attempts from before the cutoff, want its 1", len(a))
	}
	if a := attempts(t, st, pending); len(a) != 1 {
		t.Errorf("pending record keeps %d attempts, want only the one after the cutoff", len(a))
	}
	if a := attempts(t, st, fresh); len(a) != 1 {
		t.Errorf("fresh record keeps %d attempts, want 1", len(a))
	}
	if n, err := j.RunOnce(ctx); err != nil || n != 0 {
		t.Errorf("second RunOnce pruned %d (%v), want 0", n, err)
	}

	now = t0.Add(7*24*time.Hour + 3*time.Hour)
	if n, err := j.RunOnce(ctx); err != nil || n != 1 {
		t.Errorf("later RunOnce pruned %d (%v), want the newer synced record", n, err)
	}
	if r := get(t, st, dead); r.State != bridge.StateDead {
		t.Errorf("dead letter pruned: %s", r.State)
	}
	if r := get(t, st, pending); r.State != bridge.StatePending {
		t.Errorf("pending record pruned: %s", r.State)
	}
}

// countingPruner counts Prune calls.
type countingPruner struct{ calls atomic.Int64 }

func (p *countingPruner) Prune(context.Context, bridge.PruneParams) (int, error) {
	p.calls.Add(1)
	return 0, nil
}

// TestJanitorPrunesOnlyOnTheLeader: with JanitorConfig.Lead, a replica that
// does not lead leaves pruning to the one that does.
func TestJanitorPrunesOnlyOnTheLeader(t *testing.T) {
	for _, leads := range []bool{false, true} {
		p := &countingPruner{}
		j, err := maintenance.NewJanitor(p, nil, maintenance.JanitorConfig{Interval: 10 * time.Millisecond, Lead: func() bool { return leads }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		j.Run(ctx)
		cancel()
		if n := p.calls.Load(); leads != (n > 0) {
			t.Errorf("leading %v: %d prunes", leads, n)
		}
	}
}
