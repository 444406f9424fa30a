package storetest

import (
	"testing"

	"corebridge/internal/bridge"
)

// testReopen checks that Close loses nothing committed: records, states,
// counters, dead letters, dedupe keys and the Seq counter survive.
func testReopen(t *testing.T, e *env) {
	a1 := keyed(rec("a1", "a", 0), "ka1")
	e.append(a1, rec("b1", "b", 0), rec("a2", "a", 0))
	e.append(rec("b2", "b", 1), rec("a3", "a", 1))
	la := e.mustLease(lp(ts(1), 2), "a", "a1", "a2")
	e.settle(bridge.Settlement{LeaseID: la.ID, Module: "a", Now: ts(2),
		Synced: []string{"a1"}, Dead: []bridge.DeadMark{{ID: "a2", Reason: "rejected"}}})
	lb := e.mustLease(lp(ts(2), 1), "b", "b1")
	e.settle(bridge.Settlement{LeaseID: lb.ID, Module: "b", Now: ts(3),
		Retry: []string{"b1"}, RetryAt: ts(100), Error: "timeout"})

	all := []string{"a1", "b1", "a2", "b2", "a3"}
	recs := map[string]bridge.Record{}
	var maxSeq int64
	for _, id := range all {
		recs[id] = e.get(id)
		maxSeq = max(maxSeq, recs[id].Seq)
	}
	st, ms, dead := e.stats(), e.modules(), e.listDead(bridge.DeadQuery{Limit: 100})

	e.reopen()

	for _, id := range all {
		checkRecord(t, "after reopen", e.get(id), recs[id])
	}
	checkStats(t, e.stats(), st)
	checkModules(t, e.modules(), ms)
	checkRecords(t, "ListDead after reopen", e.listDead(bridge.DeadQuery{Limit: 100}), dead)

	got := e.append(resend(a1, "dup", 5), rec("c1", "c", 5))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "a1", SessionID: "sess-a1", ReceivedAt: ts(0), Duplicate: true})
	if seq := e.get("c1").Seq; seq <= maxSeq {
		t.Errorf("Seq of a record appended after reopen = %d, want > %d", seq, maxSeq)
	}
	e.mustLease(lp(ts(50), 10), "a", "a3")
	e.mustLease(lp(ts(50), 10), "c", "c1")
	e.noLease(lp(ts(50), 10)) // b1 waits for ts(100)
}

func testPing(t *testing.T, e *env) {
	if err := e.s.Ping(t.Context()); err != nil {
		t.Errorf("Ping on a fresh store: %v", err)
	}
	e.append(rec("a1", "a", 0))
	if err := e.s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after Append: %v", err)
	}
}
