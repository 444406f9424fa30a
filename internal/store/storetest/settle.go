package storetest

import (
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// settled is r after one attempt that ended in state, at now.
func settled(r bridge.Record, state bridge.State, now time.Time, lastError string) bridge.Record {
	r.State, r.Attempts, r.LastError = state, r.Attempts+1, lastError
	r.NextAttemptAt = time.Time{} // open once synced or dead
	if state == bridge.StateSynced {
		r.SyncedAt = now
	}
	return r
}

func testSettleSynced(t *testing.T, e *env) {
	e.append(rec("a1", "a", 0), rec("a2", "a", 0), rec("a3", "a", 1))
	a1, a2 := e.get("a1"), e.get("a2")
	l := e.mustLease(lp(ts(1), 2), "a", "a1", "a2")
	e.synced(l, ts(10), "a1", "a2")
	checkRecord(t, "synced", e.get("a1"), settled(a1, bridge.StateSynced, ts(10), ""))
	checkRecord(t, "synced", e.get("a2"), settled(a2, bridge.StateSynced, ts(10), ""))
	checkStats(t, e.stats(), bridge.Stats{Received: 3, Pending: 1, Synced: 2, LastSyncAt: ts(10), OldestPendingAt: ts(1)})
	checkModules(t, e.modules(), []bridge.ModuleSummary{
		{Module: "a", Received: 3, Pending: 1, Synced: 2, LastSeenAt: ts(1), LastSyncAt: ts(10)},
	})

	l = e.mustLease(lp(ts(10), 2), "a", "a3")
	e.synced(l, ts(20), "a3")
	checkStats(t, e.stats(), bridge.Stats{Received: 3, Synced: 3, LastSyncAt: ts(20)})
	checkModules(t, e.modules(), []bridge.ModuleSummary{
		{Module: "a", Received: 3, Synced: 3, LastSeenAt: ts(1), LastSyncAt: ts(20)},
	})
	e.noLease(lp(ts(20), 10))
}

func testSettleDead(t *testing.T, e *env) {
	e.append(rec("a1", "a", 0), rec("a2", "a", 0))
	a1 := e.get("a1")
	l := e.mustLease(lp(ts(0), 1), "a", "a1")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "a", Now: ts(5),
		Dead: []bridge.DeadMark{{ID: "a1", Reason: "bucket rejected: bad field"}}})
	checkRecord(t, "dead", e.get("a1"), settled(a1, bridge.StateDead, ts(5), "bucket rejected: bad field"))
	checkStats(t, e.stats(), bridge.Stats{Received: 2, Pending: 1, Dead: 1, OldestPendingAt: ts(0)})
	checkModules(t, e.modules(), []bridge.ModuleSummary{{Module: "a", Received: 2, Pending: 1, Dead: 1, LastSeenAt: ts(0)}})

	// A dead head no longer blocks its module.
	e.mustLease(lp(ts(5), 10), "a", "a2")
}

func testSettleRetry(t *testing.T, e *env) {
	e.append(rec("a1", "a", 0), rec("a2", "a", 0))
	a1 := e.get("a1")
	l := e.mustLease(lp(ts(0), 10), "a", "a1", "a2")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "a", Now: ts(5),
		Retry: []string{"a1", "a2"}, RetryAt: ts(30), Error: "timeout"})
	want := a1
	want.Attempts, want.NextAttemptAt, want.LastError = 1, ts(30), "timeout"
	checkRecord(t, "retried", e.get("a1"), want)
	if r := e.get("a2"); r.Attempts != 1 || !r.NextAttemptAt.Equal(ts(30)) || r.LastError != "timeout" {
		t.Errorf("retried a2 = %+v, want Attempts 1, NextAttemptAt %v, LastError timeout", r, ts(30))
	}
	checkStats(t, e.stats(), bridge.Stats{Received: 2, Pending: 2, OldestPendingAt: ts(0)})

	// Attempts add up over retries and the final success.
	l = e.mustLease(lp(ts(30), 10), "a", "a1", "a2")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "a", Now: ts(31),
		Retry: []string{"a1", "a2"}, RetryAt: ts(90), Error: "503"})
	if r := e.get("a1"); r.Attempts != 2 || !r.NextAttemptAt.Equal(ts(90)) || r.LastError != "503" {
		t.Errorf("twice retried a1 = %+v, want Attempts 2, NextAttemptAt %v, LastError 503", r, ts(90))
	}
	l = e.mustLease(lp(ts(90), 10), "a", "a1", "a2")
	e.synced(l, ts(91), "a1", "a2")
	if r := e.get("a1"); r.State != bridge.StateSynced || r.Attempts != 3 || !r.SyncedAt.Equal(ts(91)) {
		t.Errorf("a1 synced on the third attempt = %+v, want state synced, Attempts 3, SyncedAt %v", r, ts(91))
	}
}

// testSettleUnnamed checks that records of a lease left out of its
// settlement are untouched and go out again at once, in order.
func testSettleUnnamed(t *testing.T, e *env) {
	e.append(rec("a1", "a", 0), rec("a2", "a", 0), rec("a3", "a", 0), rec("a4", "a", 0))
	a3, a4 := e.get("a3"), e.get("a4")
	l := e.mustLease(lp(ts(0), 10), "a", "a1", "a2", "a3", "a4")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "a", Now: ts(5),
		Synced: []string{"a1"}, Dead: []bridge.DeadMark{{ID: "a2", Reason: "rejected"}}})
	checkRecord(t, "unnamed", e.get("a3"), a3)
	checkRecord(t, "unnamed", e.get("a4"), a4)
	checkCounts(t, e, counts("a", 4, 2, 1, 1))
	e.mustLease(lp(ts(5), 10), "a", "a3", "a4")
}
