package storetest

import (
	"testing"
	"time"

	"corebridge/internal/bridge"
)

func testStatsEmpty(t *testing.T, e *env) {
	checkStats(t, e.stats(), bridge.Stats{})
	if ms := e.modules(); len(ms) != 0 {
		t.Errorf("Modules of an empty store = %+v, want none", ms)
	}
	n, mean := latency(t, e, ts(0))
	if n != 0 || mean != 0 {
		t.Errorf("LatencySince on an empty store = %d, %v; want 0, 0", n, mean)
	}
}

// testStatsMix checks every figure after appends, a duplicate, a sync, a
// death and a retry across three modules appended out of name order.
func testStatsMix(t *testing.T, e *env) {
	e.append(keyed(rec("z1", "zeta", 0), "kz"), rec("a1", "alpha", 1), rec("z2", "zeta", 2))
	e.append(rec("m1", "mid", 3), rec("a2", "alpha", 4), rec("z3", "zeta", 5))
	e.append(keyed(rec("zd", "zeta", 5), "kz"))

	e.synced(e.mustLease(lp(ts(10), 1, "alpha", "mid"), "zeta", "z1"), ts(10), "z1")
	e.dead(e.mustLease(lp(ts(11), 1, "zeta", "mid"), "alpha", "a1"), ts(11), "a1")
	e.synced(e.mustLease(lp(ts(12), 1, "zeta", "alpha"), "mid", "m1"), ts(12), "m1")
	l := e.mustLease(lp(ts(13), 1, "alpha", "mid"), "zeta", "z2")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "zeta", Now: ts(13), Retry: []string{"z2"}, RetryAt: ts(100), Error: "x"})

	checkStats(t, e.stats(), bridge.Stats{
		Received: 6, Pending: 3, Synced: 2, Dead: 1,
		LastSyncAt:      ts(12),
		OldestPendingAt: ts(2), // z2: its received_at, not its retry time
	})
	checkModules(t, e.modules(), []bridge.ModuleSummary{
		{Module: "alpha", Received: 2, Pending: 1, Dead: 1, LastSeenAt: ts(4)},
		{Module: "mid", Received: 1, Synced: 1, LastSeenAt: ts(3), LastSyncAt: ts(12)},
		{Module: "zeta", Received: 3, Pending: 2, Synced: 1, LastSeenAt: ts(5), LastSyncAt: ts(10)},
	})
}

func latency(t *testing.T, e *env, since time.Time) (int64, time.Duration) {
	t.Helper()
	n, mean, err := e.s.LatencySince(t.Context(), since)
	if err != nil {
		t.Fatalf("LatencySince(%v): %v", since, err)
	}
	return n, mean
}

// testLatencySince syncs records with latencies 4 s, 5 s and 18 s at
// ts(4), ts(6) and ts(20); dead and pending records do not count.
func testLatencySince(t *testing.T, e *env) {
	e.append(rec("r1", "m", 0), rec("r2", "m", 1), rec("r3", "m", 2), rec("r4", "m", 2), rec("r5", "m", 2))
	for _, s := range []struct {
		id string
		at int
	}{{"r1", 4}, {"r2", 6}, {"r3", 20}} {
		e.synced(e.mustLease(lp(ts(s.at), 1), "m", s.id), ts(s.at), s.id)
	}
	e.dead(e.mustLease(lp(ts(30), 1), "m", "r4"), ts(30), "r4")

	for _, c := range []struct {
		since time.Time
		n     int64
		mean  time.Duration
	}{
		{ts(0), 3, 9 * time.Second},
		{ts(6), 2, 11500 * time.Millisecond}, // synced exactly at since counts
		{ts(6).Add(time.Microsecond), 1, 18 * time.Second},
		{ts(21), 0, 0},
	} {
		n, mean := latency(t, e, c.since)
		if d := mean - c.mean; n != c.n || d > time.Millisecond || d < -time.Millisecond {
			t.Errorf("LatencySince(%v) = %d, %v; want %d, %v", c.since, n, mean, c.n, c.mean)
		}
	}
}
