package maintenance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/logtest"
	"corebridge/internal/maintenance"
)

// appendKeyed stores n records of module m with dedupe keys "<m>-key-<i>",
// received at at, and returns their ids.
func appendKeyed(t *testing.T, st bridge.Store, at time.Time, m string, n int) []string {
	t.Helper()
	recs := make([]bridge.NewRecord, n)
	ids := make([]string, n)
	for i := range recs {
		ids[i] = fmt.Sprintf("%s-%04d", m, i)
		recs[i] = bridge.NewRecord{ID: ids[i], Module: m, SessionID: "s1", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
			ReceivedAt: bridge.Truncate(at), DedupeKey: fmt.Sprintf("%s-key-%d", m, i)}
	}
	if _, err := st.Append(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return ids
}

// stillDedupes checks that every record is stored and a resend of each
// (same dedupe key, new id) is absorbed as a duplicate.
func stillDedupes(t *testing.T, st bridge.Store, at time.Time, m string, ids []string) {
	t.Helper()
	ctx := context.Background()
	for i, id := range ids {
		if _, err := st.Get(ctx, id); err != nil {
			t.Errorf("%s: %v: pruned", id, err)
		}
		got, err := st.Append(ctx, []bridge.NewRecord{{ID: fmt.Sprintf("resend-%s-%d", m, i), Module: m, SessionID: "s1",
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), ReceivedAt: bridge.Truncate(at), DedupeKey: fmt.Sprintf("%s-key-%d", m, i)}})
		if err != nil {
			t.Fatal(err)
		}
		if !got[0].Duplicate || got[0].ID != id {
			t.Errorf("a resend of %s was stored as a new record %+v: its dedupe key was pruned", id, got[0])
		}
	}
}

// TestJanitorForwardStepKeepsRecords: the wall clock jumps 30 days forward
// between two passes (a minute apart on the monotonic clock). Nothing is
// older than the 7-day retention in real time, so nothing may be pruned:
// every synced record and its dedupe key stay, and the janitor says WARN.
func TestJanitorForwardStepKeepsRecords(t *testing.T) {
	st := newStore(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ids := appendKeyed(t, st, t0, "m", 5)
	deliverAll(t, st, t0, map[string]string{"m": bridge.AttemptOK})

	var mu sync.Mutex
	now := t0.Add(time.Minute)
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	logs := &logtest.Buffer{}
	j, err := maintenance.NewJanitor(st, slog.New(slog.NewJSONHandler(logs, nil)),
		maintenance.JanitorConfig{Retention: 7 * 24 * time.Hour, Now: clk})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := j.RunOnce(context.Background()); err != nil || n != 0 {
		t.Fatalf("first pass pruned %d (%v), want 0", n, err)
	}
	mu.Lock()
	now = now.Add(30 * 24 * time.Hour) // the wall clock jumps
	mu.Unlock()
	for range 2 {
		if n, err := j.RunOnce(context.Background()); err != nil || n != 0 {
			t.Errorf("pass after a 30-day jump of the wall clock pruned %d records (%v), want 0", n, err)
		}
	}
	stillDedupes(t, st, clk(), "m", ids)
	const warn = "janitor: the wall clock jumped forward: pruning by monotonic time"
	if n := logs.Count(t, "WARN", warn); n != 1 {
		t.Errorf("%d WARN lines %q, want 1", n, warn)
	}
}

// TestJanitorCutoffFollowsMonotonicTime: after a forward jump of the wall
// clock, the cutoff moves on with the monotonic clock, so records go once
// they are past the retention in real time; when the wall clock is back
// in step, the janitor says so at INFO.
func TestJanitorCutoffFollowsMonotonicTime(t *testing.T) {
	st := newStore(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ids := appendKeyed(t, st, t0, "m", 3)
	deliverAll(t, st, t0, map[string]string{"m": bridge.AttemptOK})

	wall, mono := t0.Add(time.Minute), time.Duration(0)
	logs := &logtest.Buffer{}
	j, err := maintenance.NewJanitor(st, slog.New(slog.NewJSONHandler(logs, nil)), maintenance.JanitorConfig{Retention: 7 * 24 * time.Hour,
		Now: func() time.Time { return wall }, Mono: func() time.Duration { return mono }})
	if err != nil {
		t.Fatal(err)
	}
	pass := func(what string, want int) {
		t.Helper()
		if n, err := j.RunOnce(context.Background()); err != nil || n != want {
			t.Fatalf("%s: pruned %d (%v), want %d", what, n, err, want)
		}
	}
	pass("first pass", 0)
	wall = wall.Add(30 * 24 * time.Hour) // a jump: no real time passed
	pass("after the jump", 0)
	wall, mono = wall.Add(6*24*time.Hour), mono+6*24*time.Hour
	pass("six real days later", 0)
	stillDedupes(t, st, wall, "m", ids)
	wall, mono = wall.Add(25*time.Hour), mono+25*time.Hour
	pass("seven real days and more after the sync", len(ids))
	if n := logs.Count(t, "WARN", "janitor: the wall clock jumped forward: pruning by monotonic time"); n != 1 {
		t.Errorf("%d WARN lines about the jump, want 1", n)
	}

	mono += time.Minute
	wall = t0.Add(time.Minute + mono) // the wall clock is set right again
	pass("back in step", 0)
	if n := logs.Count(t, "INFO", "janitor: the wall clock is back in step: pruning by it again"); n != 1 {
		t.Errorf("%d INFO lines about the return, want 1", n)
	}
}
