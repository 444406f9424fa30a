package storetest

import (
	"testing"

	"corebridge/internal/bridge"
)

// appendDead leaves a1, a2 and b1 dead and a3, a4 and b2 pending.
func appendDead(e *env) {
	e.append(rec("a1", "a", 0), rec("b1", "b", 0), rec("a2", "a", 0))
	e.append(rec("a3", "a", 1), rec("b2", "b", 1), rec("a4", "a", 1))
	e.dead(e.mustLease(lp(ts(1), 2), "a", "a1", "a2"), ts(2), "a1", "a2")
	e.dead(e.mustLease(lp(ts(2), 1), "b", "b1"), ts(2), "b1")
}

// syncB2 syncs b2 after appendDead. a3 is the oldest head; a live lease on
// a, released without an outcome, lets b be leased.
func syncB2(e *env) {
	la := e.mustLease(lp(ts(2), 1), "a", "a3")
	e.synced(e.mustLease(lp(ts(2), 1), "b", "b2"), ts(3), "b2")
	e.release(la, ts(3))
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
	e.mustLease(lp(ts(10), 10), "a", "a2", "a3", "a4")
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
	e.mustLease(lp(ts(10), 10), "a", "a1", "a2", "a3", "a4")
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
	e.mustLease(lp(ts(10), 10), "a", "a1", "a2", "a3", "a4")
	e.mustLease(lp(ts(10), 10), "b", "b1", "b2")
}

func testReplayNotDead(t *testing.T, e *env) {
	appendDead(e)
	syncB2(e)
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

func (e *env) purge(p bridge.ReplayParams) int {
	e.t.Helper()
	n, err := e.s.PurgeDead(e.t.Context(), p)
	if err != nil {
		e.t.Fatalf("PurgeDead(%+v): %v", p, err)
	}
	return n
}

func checkPurgeCount(t *testing.T, e *env, p bridge.ReplayParams, want int) {
	t.Helper()
	if n := e.purge(p); n != want {
		t.Errorf("PurgeDead(%+v) = %d, want %d", p, n, want)
	}
}

// purged asserts that ids are gone for good.
func purged(e *env, ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		e.notFound(id)
		e.attemptsNotFound(id)
	}
}

// snapshot returns the records ids as they are now.
func snapshot(e *env, ids ...string) map[string]bridge.Record {
	e.t.Helper()
	out := map[string]bridge.Record{}
	for _, id := range ids {
		out[id] = e.get(id)
	}
	return out
}

func checkUntouched(t *testing.T, e *env, what string, before map[string]bridge.Record) {
	t.Helper()
	for id, r := range before {
		checkRecord(t, what, e.get(id), r)
	}
}

// checkStatsLessDead asserts that Stats are before with dead fewer dead
// records, and nothing else changed.
func checkStatsLessDead(t *testing.T, e *env, before bridge.Stats, dead int64) {
	t.Helper()
	want := before
	want.Dead -= dead
	checkStats(t, e.stats(), want)
}

// appendPurge is appendDead with b2 synced: a1, a2, b1 dead, a3, a4
// pending, b2 synced.
func appendPurge(e *env) {
	appendDead(e)
	syncB2(e)
}

func testPurgeByIDs(t *testing.T, e *env) {
	appendPurge(e)
	before, kept := e.stats(), snapshot(e, "a1", "b1", "a3", "a4", "b2")
	checkPurgeCount(t, e, bridge.ReplayParams{IDs: []string{"a2", "a3", "b2", "nope"}, Now: ts(10)}, 1)
	purged(e, "a2")
	checkUntouched(t, e, "not purged", kept)
	checkStatsLessDead(t, e, before, 1)
	checkCounts(t, e, counts("a", 4, 2, 0, 1), counts("b", 2, 0, 1, 1))
	q := bridge.DeadQuery{Limit: 10}
	checkPages(t, q, pages(t, e, q), [][]string{{"a1", "b1"}})
	checkPurgeCount(t, e, bridge.ReplayParams{IDs: []string{"a2"}, Now: ts(10)}, 0)
	e.mustLease(lp(ts(10), 10), "a", "a3", "a4")
}

func testPurgeByModule(t *testing.T, e *env) {
	appendPurge(e)
	before, kept := e.stats(), snapshot(e, "b1", "a3", "a4", "b2")
	checkPurgeCount(t, e, bridge.ReplayParams{Module: "a", Now: ts(10)}, 2)
	purged(e, "a1", "a2")
	checkUntouched(t, e, "not purged", kept)
	checkStatsLessDead(t, e, before, 2)
	checkCounts(t, e, counts("a", 4, 2, 0, 0), counts("b", 2, 0, 1, 1))
	checkPurgeCount(t, e, bridge.ReplayParams{Module: "c", Now: ts(10)}, 0)
	checkPurgeCount(t, e, bridge.ReplayParams{Module: "a", Now: ts(10)}, 0)
	checkCounts(t, e, counts("a", 4, 2, 0, 0), counts("b", 2, 0, 1, 1))
}

func testPurgeAll(t *testing.T, e *env) {
	appendPurge(e)
	before, kept := e.stats(), snapshot(e, "a3", "a4", "b2")
	checkPurgeCount(t, e, bridge.ReplayParams{All: true, Now: ts(10)}, 3)
	purged(e, "a1", "a2", "b1")
	checkUntouched(t, e, "not purged", kept)
	checkStatsLessDead(t, e, before, 3)
	checkCounts(t, e, counts("a", 4, 2, 0, 0), counts("b", 2, 0, 1, 0))
	checkPurgeCount(t, e, bridge.ReplayParams{All: true, Now: ts(11)}, 0)
	q := bridge.DeadQuery{Limit: 10}
	checkPages(t, q, pages(t, e, q), nil)
}

func testPurgeNoSelector(t *testing.T, e *env) {
	appendPurge(e)
	before := e.stats()
	p := bridge.ReplayParams{Now: ts(10)}
	n, err := e.s.PurgeDead(t.Context(), p)
	if code := bridge.ErrorCode(err); code != bridge.EINVALID {
		t.Errorf("PurgeDead(%+v) = %d, %v (code %q), want code %q", p, n, err, code, bridge.EINVALID)
	}
	checkStats(t, e.stats(), before)
	q := bridge.DeadQuery{Limit: 10}
	checkPages(t, q, pages(t, e, q), [][]string{{"a1", "b1", "a2"}})
}

// testPurgePrecedence checks that IDs win over Module, and Module over All.
func testPurgePrecedence(t *testing.T, e *env) {
	appendPurge(e)
	checkPurgeCount(t, e, bridge.ReplayParams{IDs: []string{"a1"}, Module: "b", All: true, Now: ts(10)}, 1)
	checkCounts(t, e, counts("a", 4, 2, 0, 1), counts("b", 2, 0, 1, 1))
	checkPurgeCount(t, e, bridge.ReplayParams{Module: "b", All: true, Now: ts(10)}, 1)
	checkCounts(t, e, counts("a", 4, 2, 0, 1), counts("b", 2, 0, 1, 0))
	purged(e, "a1", "b1")
	e.get("a2")
}
