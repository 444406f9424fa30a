package storetest

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

func (e *env) attempts(id string) []bridge.Attempt {
	e.t.Helper()
	as, err := e.s.Attempts(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("Attempts(%q): %v", id, err)
	}
	return as
}

func (e *env) attemptCounts(since time.Time) map[string]int64 {
	e.t.Helper()
	c, err := e.s.AttemptCounts(e.t.Context(), since)
	if err != nil {
		e.t.Fatalf("AttemptCounts(%v): %v", since, err)
	}
	return c
}

// attemptsNotFound asserts that Attempts does not know id.
func (e *env) attemptsNotFound(id string) {
	e.t.Helper()
	as, err := e.s.Attempts(e.t.Context(), id)
	if code := bridge.ErrorCode(err); code != bridge.ENOTFOUND {
		e.t.Errorf("Attempts(%q) = %+v, %v (code %q), want code %q", id, as, err, code, bridge.ENOTFOUND)
	}
}

// attemptOf is an attempt of the whole of lease l made at at. The latency
// has odd microseconds, so that its precision is checked too.
func attemptOf(l *bridge.Lease, at time.Time, outcome string, status int, errText string) *bridge.Attempt {
	return &bridge.Attempt{
		At:         at,
		Module:     l.Module,
		LeaseID:    l.ID,
		FirstSeq:   l.Records[0].Seq,
		LastSeq:    l.Records[len(l.Records)-1].Seq,
		Records:    len(l.Records),
		Outcome:    outcome,
		HTTPStatus: status,
		Error:      errText,
		Latency:    1234567*time.Microsecond + time.Duration(status)*time.Millisecond,
	}
}

func diffAttempt(got, want bridge.Attempt) []string {
	var d []string
	ne := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if !got.At.Equal(want.At) {
		ne("At", got.At, want.At)
	}
	if got.Module != want.Module {
		ne("Module", got.Module, want.Module)
	}
	if got.LeaseID != want.LeaseID {
		ne("LeaseID", got.LeaseID, want.LeaseID)
	}
	if got.FirstSeq != want.FirstSeq {
		ne("FirstSeq", got.FirstSeq, want.FirstSeq)
	}
	if got.LastSeq != want.LastSeq {
		ne("LastSeq", got.LastSeq, want.LastSeq)
	}
	if got.Records != want.Records {
		ne("Records", got.Records, want.Records)
	}
	if got.Outcome != want.Outcome {
		ne("Outcome", got.Outcome, want.Outcome)
	}
	if got.HTTPStatus != want.HTTPStatus {
		ne("HTTPStatus", got.HTTPStatus, want.HTTPStatus)
	}
	if got.Error != want.Error {
		ne("Error", got.Error, want.Error)
	}
	if got.Latency.Truncate(time.Microsecond) != want.Latency.Truncate(time.Microsecond) {
		ne("Latency", got.Latency, want.Latency)
	}
	return d
}

// checkAttempts compares the attempts of record id with want, in order.
func checkAttempts(t *testing.T, e *env, id string, want ...*bridge.Attempt) {
	t.Helper()
	got := e.attempts(id)
	if len(got) != len(want) {
		t.Errorf("Attempts(%q) = %d attempts %+v, want %d", id, len(got), got, len(want))
		return
	}
	for i, w := range want {
		if d := diffAttempt(got[i], *w); len(d) > 0 {
			t.Errorf("Attempts(%q)[%d]:\n\t%s", id, i, strings.Join(d, "\n\t"))
		}
	}
}

// checkAttemptCounts compares AttemptCounts(since) with want; an outcome
// counted 0 may be left out.
func checkAttemptCounts(t *testing.T, e *env, since time.Time, want map[string]int64) {
	t.Helper()
	got := e.attemptCounts(since)
	nz := func(m map[string]int64) map[string]int64 {
		out := map[string]int64{}
		for k, v := range m {
			if v != 0 {
				out[k] = v
			}
		}
		return out
	}
	if g, w := nz(got), nz(want); !maps.Equal(g, w) {
		t.Errorf("AttemptCounts(%v) = %v, want %v", since, g, w)
	}
}

// total sums every count of AttemptCounts since the zero time.
func (e *env) totalAttempts() int64 {
	e.t.Helper()
	var n int64
	for _, v := range e.attemptCounts(time.Time{}) {
		n += v
	}
	return n
}

// testAttemptsRecorded interleaves modules a and b, so that b1 lies inside
// the seq range of a's first batch.
func testAttemptsRecorded(t *testing.T, e *env) {
	e.append(rec("a1", "a", 0), rec("b1", "b", 0), rec("a2", "a", 0), rec("a3", "a", 0), rec("a4", "a", 0))
	l := e.mustLease(lp(ts(1), 2), "a", "a1", "a2")
	first := attemptOf(l, ts(2), bridge.AttemptPartial, 207, "a2 rejected: bad field")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "a", Now: ts(2), Synced: []string{"a1"},
		Dead: []bridge.DeadMark{{ID: "a2", Reason: "bad field"}}, Attempt: first})
	checkAttempts(t, e, "a1", first)
	checkAttempts(t, e, "a2", first)
	checkAttempts(t, e, "b1") // inside FirstSeq..LastSeq, but of another module
	checkAttempts(t, e, "a3") // of the module, but after LastSeq
	checkAttempts(t, e, "a4")

	// Two attempts of the next batch come back oldest first. b1 is now the
	// oldest head; a live lease on b, released without an outcome, lets a
	// be leased.
	lb := e.mustLease(lp(ts(3), 10), "b", "b1")
	l = e.mustLease(lp(ts(3), 10), "a", "a3", "a4")
	failed := attemptOf(l, ts(3), bridge.AttemptFailed, 503, "503 Service Unavailable")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "a", Now: ts(3), Retry: []string{"a3", "a4"},
		RetryAt: ts(4), Error: "503 Service Unavailable", Attempt: failed})
	l = e.mustLease(lp(ts(4), 10), "a", "a3", "a4")
	ok := attemptOf(l, ts(5), bridge.AttemptOK, 200, "")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "a", Now: ts(5), Synced: []string{"a3", "a4"}, Attempt: ok})
	e.release(lb, ts(5))
	checkAttempts(t, e, "a3", failed, ok)
	checkAttempts(t, e, "a4", failed, ok)
	checkAttempts(t, e, "a1", first)
	checkAttempts(t, e, "b1")

	// The history is durable.
	e.reopen()
	checkAttempts(t, e, "a1", first)
	checkAttempts(t, e, "a2", first)
	checkAttempts(t, e, "a4", failed, ok)
	checkAttempts(t, e, "b1")
}

func testAttemptsUnknown(t *testing.T, e *env) {
	e.attemptsNotFound("nope")
	e.append(rec("a1", "a", 0))
	l := e.mustLease(lp(ts(0), 1), "a", "a1")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "a", Now: ts(1), Synced: []string{"a1"},
		Attempt: attemptOf(l, ts(1), bridge.AttemptOK, 200, "")})
	e.attemptsNotFound("nope")
}

func testAttemptsNoneWithoutAttempt(t *testing.T, e *env) {
	e.append(rec("a1", "a", 0), rec("a2", "a", 0), rec("a3", "a", 0))
	l := e.mustLease(lp(ts(0), 10), "a", "a1", "a2", "a3")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "a", Now: ts(1), Synced: []string{"a1"},
		Dead: []bridge.DeadMark{{ID: "a2", Reason: "bad"}}, Retry: []string{"a3"}, RetryAt: ts(2), Error: "timeout"})
	for _, id := range []string{"a1", "a2", "a3"} {
		checkAttempts(t, e, id)
	}
	checkAttemptCounts(t, e, time.Time{}, nil)
}

// testAttemptCounts makes one ok attempt at ts(1), failed ones at ts(2) and
// ts(3), a rejected one at ts(4) and a partial one at ts(5), over two modules.
func testAttemptCounts(t *testing.T, e *env) {
	e.append(rec("x1", "m", 0), rec("x2", "m", 0), rec("y1", "n", 0), rec("y2", "n", 0))
	l := e.mustLease(lp(ts(1), 1), "m", "x1")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "m", Now: ts(1), Synced: []string{"x1"},
		Attempt: attemptOf(l, ts(1), bridge.AttemptOK, 200, "")})
	for _, sec := range []int{2, 3} {
		l = e.mustLease(lp(ts(sec), 1), "m", "x2")
		e.settle(bridge.Settlement{LeaseID: l.ID, Module: "m", Now: ts(sec), Retry: []string{"x2"}, RetryAt: ts(sec + 1),
			Error: "timeout", Attempt: attemptOf(l, ts(sec), bridge.AttemptFailed, 0, "timeout")})
	}
	l = e.mustLease(lp(ts(4), 1), "m", "x2")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "m", Now: ts(4), Dead: []bridge.DeadMark{{ID: "x2", Reason: "400"}},
		Attempt: attemptOf(l, ts(4), bridge.AttemptRejected, 400, "400 Bad Request")})
	l = e.mustLease(lp(ts(5), 10), "n", "y1", "y2")
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: "n", Now: ts(5), Synced: []string{"y1"},
		Dead: []bridge.DeadMark{{ID: "y2", Reason: "bad"}}, Attempt: attemptOf(l, ts(5), bridge.AttemptPartial, 207, "")})

	all := map[string]int64{bridge.AttemptOK: 1, bridge.AttemptFailed: 2, bridge.AttemptRejected: 1, bridge.AttemptPartial: 1}
	checkAttemptCounts(t, e, time.Time{}, all)
	checkAttemptCounts(t, e, ts(1), all) // at since counts
	checkAttemptCounts(t, e, ts(1).Add(time.Microsecond), map[string]int64{
		bridge.AttemptFailed: 2, bridge.AttemptRejected: 1, bridge.AttemptPartial: 1})
	checkAttemptCounts(t, e, ts(3), map[string]int64{
		bridge.AttemptFailed: 1, bridge.AttemptRejected: 1, bridge.AttemptPartial: 1})
	checkAttemptCounts(t, e, ts(5), map[string]int64{bridge.AttemptPartial: 1})
	checkAttemptCounts(t, e, ts(5).Add(time.Microsecond), nil)
}

// retried leaves r1 pending after failed attempts at each of secs.
func retried(e *env, secs ...int) []*bridge.Attempt {
	e.append(rec("r1", "m", 0))
	var out []*bridge.Attempt
	for _, sec := range secs {
		l := e.mustLease(lp(ts(sec), 1), "m", "r1")
		a := attemptOf(l, ts(sec), bridge.AttemptFailed, 502, "502 Bad Gateway")
		e.settle(bridge.Settlement{LeaseID: l.ID, Module: "m", Now: ts(sec), Retry: []string{"r1"},
			RetryAt: ts(sec), Error: "502", Attempt: a})
		out = append(out, a)
	}
	return out
}

// testPruneAttempts makes attempts at ts(1), ts(2), ts(3) (before the
// cutoff), ts(5) (exactly at it) and ts(6); only the first three may go,
// Limit at a time.
func testPruneAttempts(t *testing.T, e *env) {
	as := retried(e, 1, 2, 3, 5, 6)
	p := bridge.PruneParams{SyncedBefore: ts(100), AttemptsBefore: ts(5), Limit: 2}
	for i, want := range []int64{3, 2, 2} {
		if n := prune(t, e, p); n != 0 {
			t.Errorf("Prune pass %d (%+v) = %d, want 0: it counts records, and none is synced", i+1, p, n)
		}
		if n := e.totalAttempts(); n != want {
			t.Errorf("after Prune pass %d (%+v): %d attempts left, want %d", i+1, p, n, want)
		}
	}
	checkAttempts(t, e, "r1", as[3], as[4])
	checkAttemptCounts(t, e, time.Time{}, map[string]int64{bridge.AttemptFailed: 2})
	if r := e.get("r1"); r.State != bridge.StatePending || r.Attempts != 5 {
		t.Errorf("r1 after Prune = %+v, want pending with Attempts 5", r)
	}
}

func testPruneKeepsAttempts(t *testing.T, e *env) {
	as := retried(e, 1, 2, 3)
	p := bridge.PruneParams{SyncedBefore: ts(100), Limit: 10}
	if n := prune(t, e, p); n != 0 {
		t.Errorf("Prune(%+v) = %d, want 0", p, n)
	}
	checkAttempts(t, e, "r1", as...)
	checkAttemptCounts(t, e, time.Time{}, map[string]int64{bridge.AttemptFailed: 3})
}

// testPruneKeepsDeadLetters: a dead letter keeps its whole attempt history
// and its edits, however old, until it is replayed or purged; a pruned
// record's edits go with it.
func testPruneKeepsDeadLetters(t *testing.T, e *env) {
	e.append(rec("d1", "m", 0), rec("s1", "n", 0))
	ld := e.mustLease(lp(ts(1), 1), "m", "d1")
	ad := attemptOf(ld, ts(1), bridge.AttemptRejected, 400, "400 Bad Request")
	e.settle(bridge.Settlement{LeaseID: ld.ID, Module: "m", Now: ts(1), Dead: []bridge.DeadMark{{ID: "d1", Reason: "rejected"}}, Attempt: ad})
	ls := e.mustLease(lp(ts(1), 1), "n", "s1")
	e.settle(bridge.Settlement{LeaseID: ls.ID, Module: "n", Now: ts(1), Synced: []string{"s1"},
		Attempt: attemptOf(ls, ts(1), bridge.AttemptOK, 200, "")})
	if err := e.s.EditDead(t.Context(), bridge.EditParams{ID: "d1", Data: []byte(`{"fixed":true}`), Now: ts(2)}); err != nil {
		t.Fatal(err)
	}

	// e1: dead, edited, replayed and synced: once pruned, its edits go too.
	e.append(rec("e1", "o", 0))
	e.dead(e.mustLease(lp(ts(1), 1), "o", "e1"), ts(1), "e1")
	if err := e.s.EditDead(t.Context(), bridge.EditParams{ID: "e1", Data: []byte(`{"fixed":true}`), Now: ts(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.ReplayDead(t.Context(), bridge.ReplayParams{IDs: []string{"e1"}, Now: ts(3)}); err != nil {
		t.Fatal(err)
	}
	e.synced(e.mustLease(lp(ts(3), 1), "o", "e1"), ts(3), "e1")

	p := bridge.PruneParams{SyncedBefore: ts(50), AttemptsBefore: ts(50), Limit: 100}
	if n := prune(t, e, p); n != 2 {
		t.Errorf("Prune(%+v) = %d, want the two synced records", p, n)
	}
	if edits, err := e.s.Edits(t.Context(), "e1"); err != nil || len(edits) != 0 {
		t.Errorf("a pruned record's edits: %v, %v; want none left", edits, err)
	}
	checkAttempts(t, e, "d1", ad)
	if edits, err := e.s.Edits(t.Context(), "d1"); err != nil || len(edits) != 1 {
		t.Errorf("the dead letter's edits after Prune: %v, %v; want the one edit kept", edits, err)
	}
	if n := e.totalAttempts(); n != 1 {
		t.Errorf("%d attempts left, want only the dead letter's", n)
	}
}
