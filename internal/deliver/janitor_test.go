package deliver

import (
	"context"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

func TestJanitorPrunesSyncedPastRetention(t *testing.T) {
	ctx := context.Background()
	st, clk := newStore(t), newClock()
	t0 := clk.Now()
	old := appendRecs(t, st, t0, 0, "old", "old")
	dead := appendRecs(t, st, t0, 0, "dead")[0]
	pending := appendRecs(t, st, t0, 0, "pend")[0]
	fresh := appendRecs(t, st, t0.Add(2*time.Hour), 0, "new")[0]
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		switch recs[0].Module {
		case "dead":
			return nil, &bucket.StatusError{StatusCode: 400, Message: "bad batch"}
		case "pend":
			return nil, networkErr
		}
		return storeAll(recs), nil
	}}
	f := newForwarder(st, s, clk, Config{})
	drain(t, f) // old synced at t0, dead dead, pend retried
	clk.Set(t0.Add(2 * time.Hour))
	drain(t, f) // new synced at t0+2h
	for id, want := range map[string]bridge.State{old[0]: bridge.StateSynced, old[1]: bridge.StateSynced,
		dead: bridge.StateDead, pending: bridge.StatePending, fresh: bridge.StateSynced} {
		if r := get(t, st, id); r.State != want {
			t.Fatalf("setup: %s is %s, want %s", id, r.State, want)
		}
	}

	now := t0.Add(7*24*time.Hour + time.Hour) // cutoff t0+1h: after old's sync, before new's
	j := &Janitor{Store: st, Log: discard(), Retention: 7 * 24 * time.Hour, Now: func() time.Time { return now }}
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
	// The attempt history of the same age goes too; the newer stays.
	if a := attempts(t, st, dead); len(a) != 0 {
		t.Errorf("dead record keeps %d attempts from before the cutoff, want 0", len(a))
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
