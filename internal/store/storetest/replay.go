package storetest

import (
	"testing"

	"corebridge/internal/bridge"
)

// appendDead leaves a1, a2 and b1 dead and a3, a4 and b2 pending.
func appendDead(e *env) {
	e.append(rec("a1", "a", 0), rec("b1", "b", 0), rec("a2", "a", 0))
	e.append(rec("a3", "a", 1), rec("b2", "b", 1), rec("a4", "a", 1))
	e.dead(e.mustLease(lp(ts(1), 2, "b"), "a", "a1", "a2"), ts(2), "a1", "a2")
	e.dead(e.mustLease(lp(ts(2), 1, "a"), "b", "b1"), ts(2), "b1")
}

// checkReplayed asserts that id is pending again, due at p.Now, with its
// attempts reset.
func checkReplayed(t *testing.T, e *env, p bridge.ReplayParams, id string) {
	t.Helper()
	r := e.get(id)
	if r.State != bridge.StatePending || r.Attempts != 0 || !r.NextAttemptAt.Equal(p.Now) {
		t.Errorf("replayed %s: state %v, Attempts %d, NextAttemptAt %v; want pending, 0, %v",
			id, r.State, r.Attempts, r.NextAttemptAt, p.Now)
	}
}

func checkReplayCount(t *testing.T, e *env, p bridge.ReplayParams, want int) {
	t.Helper()
	if n := e.replay(p); n != want {
		t.Errorf("ReplayDead(%+v) = %d, want %d", p, n, want)
	}
}

func testReplayByIDs(t *testing.T, e *env) {
	appendDead(e)
	p := bridge.ReplayParams{IDs: []string{"a2"}, Now: ts(10)}
	checkReplayCount(t, e, p, 1)
	checkReplayed(t, e, p, "a2")
	if r := e.get("a1"); r.State != bridge.StateDead {
		t.Errorf("a1 not named in the replay: state %v, want dead", r.State)
	}
	checkCounts(t, e, counts("a", 4, 3, 0, 1), counts("b", 2, 1, 0, 1))
	// a2 takes its place again before the newer a3, a4.
	e.mustLease(lp(ts(10), 10, "b"), "a", "a2", "a3", "a4")
}

func testReplayByModule(t *testing.T, e *env) {
	appendDead(e)
	p := bridge.ReplayParams{Module: "a", Now: ts(10)}
	checkReplayCount(t, e, p, 2)
	checkReplayed(t, e, p, "a1")
	checkReplayed(t, e, p, "a2")
	if r := e.get("b1"); r.State != bridge.StateDead {
		t.Errorf("b1 of another module: state %v, want dead", r.State)
	}
	checkCounts(t, e, counts("a", 4, 4, 0, 0), counts("b", 2, 1, 0, 1))
	e.mustLease(lp(ts(10), 10, "b"), "a", "a1", "a2", "a3", "a4")
	e.mustLease(lp(ts(10), 10), "b", "b2")
}

func testReplayAll(t *testing.T, e *env) {
	appendDead(e)
	p := bridge.ReplayParams{All: true, Now: ts(10)}
	checkReplayCount(t, e, p, 3)
	for _, id := range []string{"a1", "a2", "b1"} {
		checkReplayed(t, e, p, id)
	}
	checkCounts(t, e, counts("a", 4, 4, 0, 0), counts("b", 2, 2, 0, 0))
	if st := e.stats(); !st.OldestPendingAt.Equal(ts(0)) {
		t.Errorf("Stats.OldestPendingAt = %v, want %v (received_at of replayed a1)", st.OldestPendingAt, ts(0))
	}
	e.mustLease(lp(ts(10), 10, "a"), "b", "b1", "b2")
	e.mustLease(lp(ts(10), 10), "a", "a1", "a2", "a3", "a4")
}

func testReplayNotDead(t *testing.T, e *env) {
	appendDead(e)
	e.synced(e.mustLease(lp(ts(2), 1, "a"), "b", "b2"), ts(3), "b2")
	a3, b2 := e.get("a3"), e.get("b2")
	checkReplayCount(t, e, bridge.ReplayParams{IDs: []string{"a3", "b2"}, Now: ts(10)}, 0)
	checkRecord(t, "pending, not replayed", e.get("a3"), a3)
	checkRecord(t, "synced, not replayed", e.get("b2"), b2)
	checkReplayCount(t, e, bridge.ReplayParams{Module: "c", Now: ts(10)}, 0)
	checkCounts(t, e, counts("a", 4, 2, 0, 2), counts("b", 2, 0, 1, 1))

	checkReplayCount(t, e, bridge.ReplayParams{All: true, Now: ts(10)}, 3)
	checkReplayCount(t, e, bridge.ReplayParams{All: true, Now: ts(11)}, 0)
	checkCounts(t, e, counts("a", 4, 4, 0, 0), counts("b", 2, 1, 1, 0))
}

// testReplayPrecedence checks that IDs win over Module, and Module over All.
func testReplayPrecedence(t *testing.T, e *env) {
	appendDead(e)
	checkReplayCount(t, e, bridge.ReplayParams{IDs: []string{"a1"}, Module: "b", All: true, Now: ts(10)}, 1)
	checkCounts(t, e, counts("a", 4, 3, 0, 1), counts("b", 2, 1, 0, 1))
	checkReplayCount(t, e, bridge.ReplayParams{Module: "b", All: true, Now: ts(10)}, 1)
	checkCounts(t, e, counts("a", 4, 3, 0, 1), counts("b", 2, 2, 0, 0))
}
