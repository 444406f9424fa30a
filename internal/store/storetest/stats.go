package storetest

import (
	"testing"

	"corebridge/internal/bridge"
)

func testStatsEmpty(t *testing.T, e *env) {
	checkStats(t, e.stats(), bridge.Stats{})
	if ms := e.modules(); len(ms) != 0 {
		t.Errorf("Modules of an empty store = %+v, want none", ms)
	}
	if rs := e.rollups(ts(0), ts(86400)); len(rs) != 0 {
		t.Errorf("Rollups of an empty store = %+v, want none", rs)
	}
}

// testStatsMix checks every figure after appends, a duplicate, a sync, a
// death and a retry across three modules appended out of name order.
func testStatsMix(t *testing.T, e *env) {
	z1 := keyed(rec("z1", "zeta", 0), "kz")
	e.append(z1, rec("a1", "alpha", 1), rec("z2", "zeta", 2))
	e.append(rec("m1", "mid", 3), rec("a2", "alpha", 4), rec("z3", "zeta", 5))
	e.append(resend(z1, "zd", 5))

	e.synced(e.mustLease(lp(ts(10), 1), "zeta", "z1"), ts(10), "z1")
	e.dead(e.mustLease(lp(ts(11), 1), "alpha", "a1"), ts(11), "a1")
	// zeta's z2 is the oldest head; a live lease on zeta, released without
	// an outcome, lets mid be leased.
	lz := e.mustLease(lp(ts(12), 1), "zeta", "z2")
	e.synced(e.mustLease(lp(ts(12), 1), "mid", "m1"), ts(12), "m1")
	e.release(lz, ts(12))
	l := e.mustLease(lp(ts(13), 1), "zeta", "z2")
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
