package storetest

import (
	"testing"

	"corebridge/internal/bridge"
)

func prune(t *testing.T, e *env, p bridge.PruneParams) int {
	t.Helper()
	n, err := e.s.Prune(t.Context(), p)
	if err != nil {
		t.Fatalf("Prune(%+v): %v", p, err)
	}
	return n
}

// testPrune kills d1 early, syncs p1, p2, p3 before the cutoff and p4
// exactly at it, and leaves q1 pending; only p1…p3 may go, Limit at a time.
func testPrune(t *testing.T, e *env) {
	e.append(rec("d1", "m", 0), rec("p1", "m", 0), rec("p2", "m", 0), rec("p3", "m", 0), rec("p4", "m", 0), rec("q1", "m", 0))
	e.dead(e.mustLease(lp(ts(0), 1), "m", "d1"), ts(1), "d1")
	for _, s := range []struct {
		id string
		at int
	}{{"p1", 1}, {"p2", 2}, {"p3", 3}, {"p4", 5}} {
		e.synced(e.mustLease(lp(ts(s.at), 1), "m", s.id), ts(s.at), s.id)
	}
	before := e.stats()
	kept := map[string]bridge.Record{}
	for _, id := range []string{"p4", "d1", "q1"} {
		kept[id] = e.get(id)
	}

	p := bridge.PruneParams{SyncedBefore: ts(5), Limit: 2}
	for i, want := range []int{2, 1, 0} {
		if n := prune(t, e, p); n != want {
			t.Errorf("Prune pass %d (%+v) = %d, want %d", i+1, p, n, want)
		}
	}
	for _, id := range []string{"p1", "p2", "p3"} {
		e.notFound(id)
	}
	for id, r := range kept {
		checkRecord(t, "kept by Prune", e.get(id), r)
	}
	// Synced counts every record ever synced, so pruning leaves Stats as it was.
	checkStats(t, e.stats(), before)
	checkModules(t, e.modules(), []bridge.ModuleSummary{
		{Module: "m", Received: 6, Pending: 1, Synced: 4, Dead: 1, LastSeenAt: ts(0), LastSyncAt: ts(5)},
	})
}
