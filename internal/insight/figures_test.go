package insight_test

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
	"corebridge/internal/store/storetest"
)

// clock is an injected, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// T is the start of a minute: the traffic below is placed in known minutes.
var T = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return T.Add(d) }

type rig struct {
	t     *testing.T
	clk   *clock
	store *storetest.Mem // kept across close and open, as a file would be
	hub   *insight.Hub
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, clk: &clock{t: T}, store: storetest.NewMem()}
	r.open()
	t.Cleanup(func() { r.close() })
	return r
}

func (r *rig) open() {
	hub, err := insight.New(insight.Config{Store: r.store, Now: r.clk.Now})
	if err != nil {
		r.t.Fatal(err)
	}
	r.hub = hub
}

func (r *rig) close() {
	if r.hub == nil {
		return
	}
	if err := r.hub.Close(); err != nil {
		r.t.Errorf("hub close: %v", err)
	}
	if err := r.store.Close(); err != nil {
		r.t.Errorf("store close: %v", err)
	}
	r.hub = nil
}

func (r *rig) append(recs ...bridge.NewRecord) {
	r.t.Helper()
	if _, err := r.store.Append(r.t.Context(), recs); err != nil {
		r.t.Fatal(err)
	}
}

// settle leases module m's head (n records) at now and applies fn's outcome.
func (r *rig) settle(now time.Time, n int, fn func(ids []string, s *bridge.Settlement)) {
	r.t.Helper()
	l, err := r.store.Lease(r.t.Context(), bridge.LeaseParams{Owner: "t", Now: now, TTL: time.Minute, MaxRecords: n})
	if err != nil || l == nil || len(l.Records) != n {
		r.t.Fatalf("lease %d at %v: %+v, %v", n, now, l, err)
	}
	ids := make([]string, n)
	for i, rec := range l.Records {
		ids[i] = rec.ID
	}
	s := bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: now}
	fn(ids, &s)
	if err := r.store.Settle(r.t.Context(), s); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) figures(now time.Time) insight.Figures {
	r.t.Helper()
	r.clk.Set(now)
	f, err := r.hub.Figures(r.t.Context())
	if err != nil {
		r.t.Fatal(err)
	}
	return f
}

func rec(id string, sec float64) bridge.NewRecord {
	return bridge.NewRecord{ID: id, Module: "edu", SessionID: "s-" + id, Data: json.RawMessage(`{"id":"` + id + `"}`),
		ReceivedAt: at(time.Duration(sec * float64(time.Second))), DedupeKey: "k-" + id}
}

// want is every 24 h figure; nil success means "no attempts".
type want struct {
	received, duplicates, rejected, ingestErrors, synced, failed, dead, replayed int64
	success                                                                      *float64
	avg, p50, p95, p99                                                           float64
	errors                                                                       int64
	rate                                                                         float64
}

func pct(v float64) *float64 { return &v }

func check(t *testing.T, label string, f insight.Figures, w want) {
	t.Helper()
	tt := f.Totals
	got := fmt.Sprint(tt.Received, tt.Duplicates, tt.Rejected, tt.IngestErrors, tt.Synced, tt.Failed, tt.Dead, tt.Replayed, f.ErrorCount)
	exp := fmt.Sprint(w.received, w.duplicates, w.rejected, w.ingestErrors, w.synced, w.failed, w.dead, w.replayed, w.errors)
	if got != exp {
		t.Errorf("%s: received dup rejected ingestErr synced failed dead replayed errors = %s, want %s", label, got, exp)
	}
	near := func(name string, g, w float64) {
		if math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			t.Errorf("%s: %s = %v, want %v", label, name, g, w)
		}
	}
	switch {
	case (f.SyncSuccessPct == nil) != (w.success == nil):
		t.Errorf("%s: success %v, want %v", label, f.SyncSuccessPct, w.success)
	case w.success != nil:
		near("sync success %", *f.SyncSuccessPct, *w.success)
	}
	near("avg latency", f.AvgLatencyMs, w.avg)
	near("p50", f.P50LatencyMs, w.p50)
	near("p95", f.P95LatencyMs, w.p95)
	near("p99", f.P99LatencyMs, w.p99)
	near("sync rate", f.SyncRate, w.rate)
}

// TestFiguresExact drives known traffic under an injected clock —
// duplicates, rejected input, an ingest failure, syncs at known latencies,
// failures, dead letters, a replay, a restart — and checks every 24 h
// figure exactly, then slides the window past the old minutes.
func TestFiguresExact(t *testing.T) {
	r := newRig(t)
	// 10:00 — six records; a duplicate; two invalid updates of edu, one
	// with no valid module, one refused by the bridge (503).
	r.append(rec("r1", 10), rec("r2", 10), rec("r3", 10), rec("r4", 10), rec("r5", 10), rec("r6", 10))
	dup := rec("r1", 20) // same key: absorbed as a duplicate
	dup.ID = "r1-again"  // under its own id, as ingest gives every request
	r.append(dup)
	r.clk.Set(at(30 * time.Second))
	r.hub.Ingest("update", "edu", 422, 1)
	r.hub.Ingest("update", "edu", 422, 1)
	r.hub.Ingest("update", "no such/module", 422, 1)
	r.hub.Ingest("update", "edu", 503, 1)
	r.hub.Ingest("update", "edu", 200, 1) // answered fine: not counted in rollups
	// 10:00:10.2 — r1..r3 synced, 200 ms each.
	r.settle(at(10200*time.Millisecond), 3, func(ids []string, s *bridge.Settlement) { s.Synced = ids })

	f := r.figures(at(40 * time.Second))
	check(t, "10:00:40", f, want{received: 6, duplicates: 1, rejected: 3, ingestErrors: 1, synced: 3,
		// All three in (150, 200]: interpolation says 175, 242.5, 248.5 ms;
		// clamped to what was seen, every percentile is the true 200 ms.
		success: pct(100), avg: 200, p50: 200, p95: 200, p99: 200,
		errors: 1, rate: 3.0 / 280}) // the recent span is 09:56:00–10:00:40

	// 10:01:10 — r4 synced (60 s); r5, r6 fail and are retried.
	r.settle(at(70*time.Second), 3, func(ids []string, s *bridge.Settlement) {
		s.Synced, s.Retry, s.RetryAt, s.Error = ids[:1], ids[1:], at(120*time.Second), "timeout"
	})
	// Read in the open minute, then after it has settled: counted once.
	f = r.figures(at(75 * time.Second))
	if f.Totals.Synced != 4 || f.Totals.Failed != 2 {
		t.Fatalf("10:01:15: synced %d failed %d, want 4, 2", f.Totals.Synced, f.Totals.Failed)
	}
	// 10:02:10 — r5, r6 dead; 10:03:10 r5 replayed; 10:03:20 synced (190 s).
	r.settle(at(130*time.Second), 2, func(ids []string, s *bridge.Settlement) {
		s.Dead = []bridge.DeadMark{{ID: ids[0], Reason: "gave up"}, {ID: ids[1], Reason: "gave up"}}
	})
	if n, err := r.store.ReplayDead(t.Context(), bridge.ReplayParams{IDs: []string{"r5"}, Now: at(190 * time.Second)}); err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	r.settle(at(200*time.Second), 1, func(ids []string, s *bridge.Settlement) { s.Synced = ids })

	// 10:05 — every figure. Latencies: 200, 200, 200, 60,000, 190,000 ms:
	// buckets (150, 200] ×3, (30,000, 60,000], (120,000, 300,000]. p50 reads
	// 191.7 in the first, raised to the 200 seen; p95 and p99 read 255,000
	// and 291,000 in the last, lowered to the 190,000 seen.
	all := want{received: 6, duplicates: 1, rejected: 3, ingestErrors: 1, synced: 5, failed: 2, dead: 2, replayed: 1,
		success: pct(100 * 5.0 / 9), avg: (600 + 60000 + 190000) / 5.0,
		p50: 200, p95: 190000, p99: 190000,
		errors: 2 + 2 + 1, rate: 2.0 / 240} // r4 at 10:01 and r5 at 10:03, over 10:01:00–10:05:00
	check(t, "10:05", r.figures(at(5*time.Minute)), all)
	if e := r.figures(at(5 * time.Minute)).PerModule[""]; e.Rejected != 1 {
		t.Errorf("rejected input with no valid module: %d, want 1", e.Rejected)
	}
	if e := r.figures(at(5 * time.Minute)).PerModule["edu"]; e.Received != 6 || e.Rejected != 2 || e.Synced != 5 {
		t.Errorf("edu: %+v", e)
	}

	// A restart: counts held in memory are flushed, rollups are read back.
	r.close()
	r.open()
	check(t, "10:05 after restart", r.figures(at(5*time.Minute)), all)

	// The window slides: at 10:00:30 the next day, the 10:00 minute is out.
	check(t, "next day 10:00:30", r.figures(at(24*time.Hour+30*time.Second)), want{
		synced: 2, failed: 2, dead: 2, replayed: 1, success: pct(100 * 2.0 / 6),
		avg: 125000, p50: 60000, p95: 190000, p99: 190000, // p50 at the top of (30,000, 60,000]
		errors: 4, rate: 0})
	// The window is the current minute and the 1,439 before it: at 10:02:30
	// it starts at 10:03 the day before, where only a replay and a sync are.
	check(t, "next day 10:02:30", r.figures(at(24*time.Hour+2*time.Minute+30*time.Second)), want{
		synced: 1, replayed: 1, success: pct(100), avg: 190000,
		p50: 190000, p95: 190000, p99: 190000, rate: 0})
	check(t, "two days later", r.figures(at(48*time.Hour)), want{})
}

// TestWindowSlidesIncrementally: a hub whose window is warm, read every
// 20 s as the day's old minutes leave it, agrees with a fresh hub at every
// step (the sums it keeps as minutes come and go add up).
func TestWindowSlidesIncrementally(t *testing.T) {
	r := newRig(t)
	for i := 0; i < 4; i++ {
		nr := rec(fmt.Sprint("r", i), float64(60*i+5))
		nr.Module = fmt.Sprint("m", i) // a retried head would block its module
		r.append(nr)
		r.settle(at(time.Duration(60*i+30)*time.Second), 1, func(ids []string, s *bridge.Settlement) {
			if i == 2 {
				s.Retry, s.RetryAt = ids, at(time.Hour)
				return
			}
			s.Synced = ids
		})
	}
	for d := 24*time.Hour - 2*time.Minute; d < 24*time.Hour+5*time.Minute; d += 20 * time.Second {
		warm := r.figures(at(d))
		fresh, err := insight.New(insight.Config{Store: r.store, Now: r.clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		cold, err := fresh.Figures(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(warm.Totals) != fmt.Sprint(cold.Totals) {
			t.Fatalf("at +%v: warm window %+v, fresh %+v", d, warm.Totals, cold.Totals)
		}
	}
	if f := r.figures(at(24*time.Hour + 5*time.Minute)); !f.Totals.IsZero() {
		t.Errorf("every minute has left the window, yet %+v", f.Totals)
	}
}
