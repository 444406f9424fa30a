package storetest

import (
	"fmt"
	"testing"

	"corebridge/internal/bridge"
)

// strictLP is lp with the strict modules named (all when none is).
func strictLP(p bridge.LeaseParams, modules ...string) bridge.LeaseParams {
	p.Strict = bridge.StrictOrder{All: len(modules) == 0, Modules: modules}
	return p
}

// appendStrict leaves a1 dead, a2 and a3 pending behind it, b1 and b2
// pending (b1 newer than a2): every lease below is at ts(10), when all are
// due.
func appendStrict(e *env) {
	e.append(rec("a1", "a", 0), rec("a2", "a", 1), rec("b1", "b", 2))
	e.append(rec("a3", "a", 3), rec("b2", "b", 4))
	e.dead(e.mustLease(lp(ts(5), 1), "a", "a1"), ts(5), "a1")
}

// checkBlocked asserts Modules' view of module: its oldest dead record and
// whether it precedes every pending record.
func checkBlocked(t *testing.T, e *env, module, oldestDead string, deadFirst bool) {
	t.Helper()
	for _, m := range e.modules() {
		if m.Module == module {
			if m.OldestDead != oldestDead || m.DeadFirst != deadFirst {
				t.Errorf("Modules[%s]: OldestDead %q, DeadFirst %v; want %q, %v", module, m.OldestDead, m.DeadFirst, oldestDead, deadFirst)
			}
			return
		}
	}
	t.Errorf("Modules has no %s", module)
}

// testStrictBlocks: a dead record blocks its strict module (only that
// one), and Modules says which record blocks it.
func testStrictBlocks(t *testing.T, e *env) {
	appendStrict(e)
	checkBlocked(t, e, "a", "a1", true)
	checkBlocked(t, e, "b", "", false)
	for _, p := range []bridge.LeaseParams{strictLP(lp(ts(10), 10)), strictLP(lp(ts(10), 10), "a")} {
		lb := e.mustLease(p, "b", "b1", "b2")
		e.noLease(p)
		e.release(lb, ts(10))
	}
}

// testStrictOthersPass: without strict order, or strict for other
// modules, later records pass a dead one.
func testStrictOthersPass(t *testing.T, e *env) {
	appendStrict(e)
	e.release(e.mustLease(lp(ts(10), 10), "a", "a2", "a3"), ts(10))
	e.mustLease(strictLP(lp(ts(10), 10), "b", "c"), "a", "a2", "a3")
}

// testStrictReplay: a replayed record unblocks its module and goes first;
// dead again, it blocks again.
func testStrictReplay(t *testing.T, e *env) {
	appendStrict(e)
	p := strictLP(lp(ts(10), 10), "a")
	checkReplayCount(t, e, bridge.ReplayParams{IDs: []string{"a1"}, Now: ts(10)}, 1)
	checkBlocked(t, e, "a", "", false)
	l := e.mustLease(p, "a", "a1", "a2", "a3")
	e.dead(l, ts(11), "a1")
	e.mustLease(p, "b", "b1", "b2")
	e.noLease(p)
	checkBlocked(t, e, "a", "a1", true)
}

// testStrictPurge: a purged record unblocks its module.
func testStrictPurge(t *testing.T, e *env) {
	appendStrict(e)
	p := strictLP(lp(ts(10), 10))
	checkPurgeCount(t, e, bridge.ReplayParams{IDs: []string{"a1"}, Now: ts(10)}, 1)
	checkBlocked(t, e, "a", "", false)
	e.mustLease(p, "a", "a2", "a3")
}

// testStrictStopsBeforeDead: pending records older than a dead one go,
// and a lease stops before it.
func testStrictStopsBeforeDead(t *testing.T, e *env) {
	appendStrict(e)
	p := strictLP(lp(ts(10), 10))
	e.dead(e.mustLease(lp(ts(10), 1), "a", "a2"), ts(10), "a2")
	// a1 replayed: a1 pending, a2 dead, a3 pending.
	checkReplayCount(t, e, bridge.ReplayParams{IDs: []string{"a1"}, Now: ts(10)}, 1)
	checkBlocked(t, e, "a", "a2", false)
	l := e.mustLease(p, "a", "a1")
	e.synced(l, ts(11), "a1")
	checkBlocked(t, e, "a", "a2", true)
	e.mustLease(p, "b", "b1", "b2")
	e.noLease(p)
}

// deadPage is more dead records than any store's page of ReplayDead and
// PurgeDead in the suite's harnesses (the SQLite one pages by 3).
const deadPage = 10

// appendManyDead leaves deadPage records of a and of b dead, interleaved,
// each module with one pending record (a-new, b-new) behind them.
func appendManyDead(e *env) {
	for i := range deadPage {
		e.append(rec(fmt.Sprint("a", i), "a", 0), rec(fmt.Sprint("b", i), "b", 0))
	}
	e.append(rec("a-new", "a", 1), rec("b-new", "b", 1))
	for _, m := range []string{"a", "b"} {
		l := e.lease(lp(ts(2), deadPage))
		if l == nil || l.Module != m || len(l.Records) != deadPage {
			e.t.Fatalf("lease of %s's %d oldest: %+v", m, deadPage, l)
		}
		e.dead(l, ts(2), ids(l.Records)...)
	}
}

// testReplayAllPages: a selection larger than a page is replayed whole,
// counted once, and its records keep their place.
func testReplayAllPages(t *testing.T, e *env) {
	appendManyDead(e)
	checkReplayCount(t, e, bridge.ReplayParams{All: true, Now: ts(10)}, 2*deadPage)
	checkCounts(t, e, counts("a", deadPage+1, deadPage+1, 0, 0), counts("b", deadPage+1, deadPage+1, 0, 0))
	for _, m := range []string{"a", "b"} {
		var want []string
		for i := range deadPage {
			want = append(want, fmt.Sprint(m, i))
		}
		l := e.mustLease(lp(ts(10), 100), m, append(want, m+"-new")...)
		for _, r := range l.Records[:deadPage] {
			checkReplayed(t, e, bridge.ReplayParams{Now: ts(10)}, r.ID)
		}
	}
	if got := e.listDead(bridge.DeadQuery{Limit: 100}); len(got) != 0 {
		t.Errorf("ListDead after replaying all = %v, want none", ids(got))
	}
}

// testReplayModulePages is testReplayAllPages by module.
func testReplayModulePages(t *testing.T, e *env) {
	appendManyDead(e)
	checkReplayCount(t, e, bridge.ReplayParams{Module: "b", Now: ts(10)}, deadPage)
	checkCounts(t, e, counts("a", deadPage+1, 1, 0, deadPage), counts("b", deadPage+1, deadPage+1, 0, 0))
}

// testPurgeAllPages: a purge larger than a page takes everything it
// selects, counted once.
func testPurgeAllPages(t *testing.T, e *env) {
	appendManyDead(e)
	checkPurgeCount(t, e, bridge.ReplayParams{Module: "a", Now: ts(10)}, deadPage)
	checkCounts(t, e, counts("a", deadPage+1, 1, 0, 0), counts("b", deadPage+1, 1, 0, deadPage))
	checkPurgeCount(t, e, bridge.ReplayParams{All: true, Now: ts(10)}, deadPage)
	checkCounts(t, e, counts("a", deadPage+1, 1, 0, 0), counts("b", deadPage+1, 1, 0, 0))
	for i := range deadPage {
		purged(e, fmt.Sprint("a", i), fmt.Sprint("b", i))
	}
	e.mustLease(lp(ts(10), 100), "a", "a-new")
}
