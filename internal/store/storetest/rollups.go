package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

func (e *env) rollups(from, to time.Time) []bridge.Rollup {
	e.t.Helper()
	rs, err := e.s.Rollups(e.t.Context(), bridge.RollupQuery{From: from, To: to})
	if err != nil {
		e.t.Fatalf("Rollups: %v", err)
	}
	return rs
}

// rollupKey names a rollup in failure messages and lookups.
func rollupKey(r bridge.Rollup) string { return r.Minute.Format("15:04") + "/" + r.Module }

func checkRollups(t *testing.T, got []bridge.Rollup, want ...bridge.Rollup) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Rollups = %d rows %+v\nwant %d rows %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if !got[i].Minute.Equal(want[i].Minute) || got[i].Module != want[i].Module {
			t.Fatalf("row %d is %s, want %s (rows must be ordered by minute then module)", i, rollupKey(got[i]), rollupKey(want[i]))
		}
		g, w := got[i], want[i]
		g.Minute, w.Minute = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("rollup %s = %+v\nwant %+v", rollupKey(got[i]), got[i], want[i])
		}
	}
}

// hist is a latency histogram with n records in the bucket of each d.
func hist(ds ...time.Duration) (h [bridge.LatencyBuckets]int64) {
	for _, d := range ds {
		h[bridge.LatencyBucket(d)]++
	}
	return h
}

// testRollupsCountWhatHappens drives appends, a duplicate, syncs, a
// retry, a dead letter and a replay across two minutes and two modules and
// checks every counter of every row.
func testRollupsCountWhatHappens(t *testing.T, e *env) {
	const b = 34 // ts(34) is the start of a minute (plus t0's fraction)
	m0, m1 := bridge.Minute(ts(b+0)), bridge.Minute(ts(b+60))
	a1 := keyed(rec("a1", "alpha", b+0), "k1")
	e.append(a1, rec("a2", "alpha", b+1), rec("b1", "beta", b+2))
	e.append(resend(a1, "dup", b+3), rec("a3", "alpha", b+61), rec("a4", "alpha", b+62))

	// alpha: a1 synced at ts(b+10) (10 s), a2 retried at ts(b+10); later a2,
	// a3 synced at ts(b+70) (69 s, 9 s), a4 dead at ts(b+70) and replayed.
	l := e.mustLease(lp(ts(b+10), 2), "alpha", "a1", "a2")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "alpha", Now: ts(b + 10), Synced: []string{"a1"},
		Retry: []string{"a2"}, RetryAt: ts(b + 65), Error: "timeout"})
	e.synced(e.mustLease(lp(ts(b+70), 2), "alpha", "a2", "a3"), ts(b+70), "a2", "a3")
	// beta: b1 synced at ts(b+3) (1 s). It is leased before a4, while a4
	// (received at ts(b+62)) is not yet due, so that a4 is then the only head.
	e.synced(e.mustLease(lp(ts(b+3), 1), "beta", "b1"), ts(b+3), "b1")
	e.dead(e.mustLease(lp(ts(b+70), 2), "alpha", "a4"), ts(b+70), "a4")
	if n := e.replay(bridge.ReplayParams{IDs: []string{"a4"}, Now: ts(b + 75)}); n != 1 {
		t.Fatalf("replayed %d, want 1", n)
	}

	checkRollups(t, e.rollups(ts(b+0), ts(b+120)),
		bridge.Rollup{Minute: m0, Module: "alpha", Received: 2, Duplicates: 1, Synced: 1, Failed: 1,
			LatencySumUs: 10e6, LatencyMinUs: 10e6, LatencyMaxUs: 10e6, LatencyHist: hist(10 * time.Second)},
		bridge.Rollup{Minute: m0, Module: "beta", Received: 1, Synced: 1, LatencySumUs: 1e6, LatencyMinUs: 1e6, LatencyMaxUs: 1e6, LatencyHist: hist(time.Second)},
		bridge.Rollup{Minute: m1, Module: "alpha", Received: 2, Synced: 2, Dead: 1, Replayed: 1,
			LatencySumUs: 78e6, LatencyMinUs: 9e6, LatencyMaxUs: 69e6, LatencyHist: hist(69*time.Second, 9*time.Second)},
	)
	// Ranges: minutes that overlap [From, To).
	checkRollups(t, e.rollups(ts(b+60), ts(b+120)), e.rollups(ts(b+0), ts(b+120))[2])
	if rs := e.rollups(ts(b+0), ts(b+30)); len(rs) != 2 {
		t.Errorf("Rollups of minute 0 = %d rows, want 2", len(rs))
	}
	if rs := e.rollups(ts(b+30), ts(b+61)); len(rs) != 3 {
		t.Errorf("Rollups of [0:30, 1:01) = %d rows, want 3 (both minutes overlap)", len(rs))
	}
	if rs := e.rollups(ts(b+120), ts(b+600)); len(rs) != 0 {
		t.Errorf("Rollups after the traffic = %+v, want none", rs)
	}

	ms := e.modules()
	if ms[0].DeadTotal != 1 || ms[0].Replayed != 1 || ms[0].Dead != 0 {
		t.Errorf("alpha DeadTotal, Replayed, Dead = %d, %d, %d; want 1, 1, 0", ms[0].DeadTotal, ms[0].Replayed, ms[0].Dead)
	}
}

// testAddRollups adds counts the store cannot see to existing and new rows.
func testAddRollups(t *testing.T, e *env) {
	e.append(rec("a1", "alpha", 0))
	if err := e.s.AddRollups(t.Context(), []bridge.Rollup{
		{Minute: ts(5), Module: "alpha", Rejected: 2, IngestErrors: 1}, // mid-minute: counted in its minute
		{Minute: ts(61), Module: "", Rejected: 3},                      // input with no valid module
		{Minute: ts(61), Module: "", Rejected: 1},
	}); err != nil {
		t.Fatalf("AddRollups: %v", err)
	}
	checkRollups(t, e.rollups(ts(0), ts(120)),
		bridge.Rollup{Minute: bridge.Minute(ts(0)), Module: "alpha", Received: 1, Rejected: 2, IngestErrors: 1},
		bridge.Rollup{Minute: bridge.Minute(ts(60)), Module: "", Rejected: 4},
	)
	e.reopen()
	if rs := e.rollups(ts(0), ts(120)); len(rs) != 2 || rs[1].Rejected != 4 {
		t.Errorf("after reopen Rollups = %+v, want the same two rows", rs)
	}
	// Latency bounds widen as rows merge; a row with no syncs leaves them.
	for _, r := range []bridge.Rollup{
		{Minute: ts(200), Module: "m", Synced: 1, LatencySumUs: 5, LatencyMinUs: 5, LatencyMaxUs: 5},
		{Minute: ts(200), Module: "m", Rejected: 1},
		{Minute: ts(200), Module: "m", Synced: 2, LatencySumUs: 12, LatencyMinUs: 3, LatencyMaxUs: 9},
		{Minute: ts(200), Module: "m", Synced: 1, LatencySumUs: 4, LatencyMinUs: 4, LatencyMaxUs: 4},
	} {
		if err := e.s.AddRollups(t.Context(), []bridge.Rollup{r}); err != nil {
			t.Fatal(err)
		}
	}
	rs := e.rollups(ts(200), ts(201))
	if len(rs) != 1 || rs[0].Synced != 4 || rs[0].LatencyMinUs != 3 || rs[0].LatencyMaxUs != 9 || rs[0].LatencySumUs != 21 {
		t.Errorf("merged latency bounds: %+v, want 4 synced within [3, 9] µs, sum 21", rs)
	}
}

// testPruneRollups drops whole minutes before the cutoff only.
func testPruneRollups(t *testing.T, e *env) {
	e.append(rec("a1", "alpha", 0), rec("a2", "alpha", 60), rec("a3", "alpha", 120))
	if _, err := e.s.Prune(t.Context(), bridge.PruneParams{SyncedBefore: ts(0), RollupsBefore: ts(90), Limit: 10}); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	rs := e.rollups(ts(0), ts(180))
	if len(rs) != 2 || !rs[0].Minute.Equal(bridge.Minute(ts(60))) {
		t.Errorf("after pruning before 1:30, rollups = %+v; want minutes 1 and 2", rs)
	}
}

// testModuleInterval learns a module's usual gap from the gaps between
// the distinct seconds in which its records were committed.
func testModuleInterval(t *testing.T, e *env) {
	for i := 0; i < 6; i++ {
		e.append(rec("r"+string(rune('a'+i)), "m", 30*i))
	}
	// Two records in one commit add one gap, from the commit's first.
	e.append(rec("x1", "m", 180), rec("x2", "m", 181))
	m := e.modules()[0]
	if m.Intervals != 6 || m.Interval != 30*time.Second {
		t.Errorf("Interval, Intervals = %v, %d; want 30s, 6", m.Interval, m.Intervals)
	}
	if !m.LastSeenAt.Equal(ts(181)) {
		t.Errorf("LastSeenAt = %v, want %v", m.LastSeenAt, ts(181))
	}
	e.append(rec("late", "m", 181+270)) // a longer gap moves it up by 1/8 of the difference
	if m := e.modules()[0]; m.Interval != 60*time.Second || m.Intervals != 7 {
		t.Errorf("after a 270 s gap Interval, Intervals = %v, %d; want 60s, 7", m.Interval, m.Intervals)
	}
}

// testModuleIntervalResistsBursts: commits within one second teach
// nothing, a gap is never learnt below a second, a shorter gap moves the
// interval down by only 1/32 of the difference, and load-test records
// teach nothing at all.
func testModuleIntervalResistsBursts(t *testing.T, e *env) {
	for i := 0; i < 5; i++ {
		e.append(rec("r"+string(rune('a'+i)), "m", 60*i))
	}
	if m := e.modules()[0]; m.Interval != time.Minute || m.Intervals != 4 {
		t.Fatalf("after a steady minute: Interval, Intervals = %v, %d; want 1m0s, 4", m.Interval, m.Intervals)
	}
	// A burst: 1,000 commits 2 ms apart, all within two distinct seconds
	// of the last record.
	base := ts(240)
	for i := 0; i < 1000; i++ {
		r := rec(fmt.Sprintf("b%04d", i), "m", 0)
		r.ReceivedAt = base.Add(time.Duration(i+1) * 2 * time.Millisecond)
		e.append(r)
	}
	m := e.modules()[0]
	if m.Intervals > 6 || m.Interval < 55*time.Second {
		t.Errorf("after a 2 s burst: Interval, Intervals = %v, %d; want ≥ 55s from at most 2 more gaps", m.Interval, m.Intervals)
	}

	// Load-test records are stored and counted, but teach nothing.
	before := e.modules()[0]
	for i := 0; i < 20; i++ {
		r := rec(fmt.Sprintf("l%02d", i), "m", 300+i)
		r.LoadTest = true
		e.append(r)
	}
	got := e.modules()[0]
	if got.Interval != before.Interval || got.Intervals != before.Intervals {
		t.Errorf("load-test records taught Interval, Intervals = %v, %d; want %v, %d unchanged", got.Interval, got.Intervals, before.Interval, before.Intervals)
	}
	if got.Received != before.Received+20 || !got.LastSeenAt.Equal(ts(319)) {
		t.Errorf("load-test records: Received %d, LastSeenAt %v; want %d, %v", got.Received, got.LastSeenAt, before.Received+20, ts(319))
	}

	// A module that only ever sent in one burst has gaps of a second at least.
	for i := 0; i < 500; i++ {
		r := rec(fmt.Sprintf("q%04d", i), "q", 0)
		r.ReceivedAt = ts(1000).Add(time.Duration(i) * 5 * time.Millisecond)
		e.append(r)
	}
	for _, m := range e.modules() {
		if m.Module == "q" && (m.Interval < time.Second || m.Intervals > 3) {
			t.Errorf("a 2.5 s burst: Interval, Intervals = %v, %d; want ≥ 1s from at most 3 gaps", m.Interval, m.Intervals)
		}
	}
}

// testEditDead replaces a dead letter's data and keeps its history.
func testEditDead(t *testing.T, e *env) {
	e.append(rec("d1", "m", 0), rec("p1", "m", 1))
	e.dead(e.mustLease(lp(ts(5), 1), "m", "d1"), ts(5), "d1")
	newData := json.RawMessage(`{"fixed":true}`)
	if err := e.s.EditDead(t.Context(), bridge.EditParams{ID: "d1", Data: newData, Note: "typo", Now: ts(9)}); err != nil {
		t.Fatalf("EditDead: %v", err)
	}
	if got := e.get("d1"); string(got.Data) != string(newData) || got.State != bridge.StateDead {
		t.Errorf("after edit: data %s, state %v; want %s, dead", got.Data, got.State, newData)
	}
	edits, err := e.s.Edits(t.Context(), "d1")
	if err != nil || len(edits) != 1 {
		t.Fatalf("Edits = %+v, %v; want one", edits, err)
	}
	if ed := edits[0]; !ed.At.Equal(ts(9)) || string(ed.OldData) != `{"id":"d1","n":1}` || string(ed.NewData) != string(newData) || ed.Note != "typo" {
		t.Errorf("edit = %+v", ed)
	}
	for _, id := range []string{"p1", "nope"} {
		err := e.s.EditDead(t.Context(), bridge.EditParams{ID: id, Data: newData, Now: ts(9)})
		if bridge.ErrorCode(err) != bridge.ENOTFOUND {
			t.Errorf("EditDead(%s) = %v, want ENOTFOUND (only dead letters are edited)", id, err)
		}
	}
	if got := e.get("p1"); string(got.Data) != `{"id":"p1","n":1}` {
		t.Errorf("pending record changed: %s", got.Data)
	}
	// Replay sends the edited data; a purge takes the history with it.
	e.replay(bridge.ReplayParams{IDs: []string{"d1"}, Now: ts(10)})
	l := e.mustLease(lp(ts(10), 1), "m", "d1")
	if !slices.Equal([]byte(l.Records[0].Data), []byte(newData)) {
		t.Errorf("leased data %s, want the edit", l.Records[0].Data)
	}
	e.dead(l, ts(11), "d1")
	if _, err := e.s.PurgeDead(t.Context(), bridge.ReplayParams{IDs: []string{"d1"}}); err != nil {
		t.Fatal(err)
	}
	if edits, _ := e.s.Edits(t.Context(), "d1"); len(edits) != 0 {
		t.Errorf("purged record keeps %d edits", len(edits))
	}
}
