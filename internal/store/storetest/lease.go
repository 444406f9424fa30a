package storetest

import (
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// appendAB appends records of modules a and b, interleaved, over two calls.
func appendAB(e *env) {
	e.append(rec("a1", "a", 0), rec("b1", "b", 0), rec("a2", "a", 0))
	e.append(rec("b2", "b", 1), rec("a3", "a", 1), rec("b3", "b", 1), rec("a4", "a", 1))
}

func testLeaseOrder(t *testing.T, e *env) {
	appendAB(e)
	la := e.mustLease(lp(ts(1), 100), "a", "a1", "a2", "a3", "a4")
	lb := e.mustLease(lp(ts(1), 100), "b", "b1", "b2", "b3")
	for _, l := range []*bridge.Lease{la, lb} {
		for _, r := range l.Records {
			if r.Module != l.Module || r.State != bridge.StatePending {
				t.Errorf("lease of %s holds %s of module %s in state %v", l.Module, r.ID, r.Module, r.State)
			}
		}
	}
	// Batches taken one after another keep the order too.
	e.synced(la, ts(2), "a1", "a2", "a3", "a4")
	e.release(lb, ts(2))
	for _, want := range [][]string{{"b1", "b2"}, {"b3"}} {
		l := e.mustLease(lp(ts(2), 2), "b", want...)
		e.synced(l, ts(2), want...)
	}
	e.noLease(lp(ts(2), 2))
}

func testLeaseMaxRecords(t *testing.T, e *env) {
	appendAB(e)
	l := e.mustLease(lp(ts(1), 3), "a", "a1", "a2", "a3")
	e.synced(l, ts(2), "a1", "a2", "a3")
	// b's head is now the oldest; its live lease leaves the rest of a.
	e.mustLease(lp(ts(2), 1), "b", "b1")
	e.mustLease(lp(ts(2), 3), "a", "a4")
}

func testLeaseMaxBytes(t *testing.T, e *env) {
	e.append(sized(rec("a1", "a", 0), 10), sized(rec("a2", "a", 0), 10), sized(rec("a3", "a", 0), 10),
		sized(rec("a4", "a", 0), 100), sized(rec("a5", "a", 0), 10))
	withBytes := func(n int) bridge.LeaseParams { p := lp(ts(0), 100); p.MaxBytes = n; return p }

	e.release(e.mustLease(withBytes(0), "a", "a1", "a2", "a3", "a4", "a5"), ts(0)) // 0 = no bound
	e.release(e.mustLease(withBytes(25), "a", "a1", "a2"), ts(0))
	l := e.mustLease(withBytes(30), "a", "a1", "a2", "a3") // the bound is inclusive
	e.synced(l, ts(1), "a1", "a2", "a3")
	l = e.mustLease(withBytes(25), "a", "a4") // bigger than the bound, but one always goes
	e.synced(l, ts(1), "a4")
	e.mustLease(withBytes(25), "a", "a5")
}

func testLeaseNothingDue(t *testing.T, e *env) {
	e.noLease(lp(ts(0), 10))
	e.append(rec("a1", "a", 10), rec("b1", "b", 20))
	e.noLease(lp(ts(9), 10))
	e.mustLease(lp(ts(10), 10), "a", "a1")
	e.noLease(lp(ts(19), 10))
}

// testLeaseExclusive checks that a live lease keeps its module from every
// other caller, whoever the owner, until it is settled.
func testLeaseExclusive(t *testing.T, e *env) {
	appendAB(e)
	owned := func(owner string, now time.Time) bridge.LeaseParams {
		p := lp(now, 10)
		p.Owner = owner
		return p
	}
	la := e.mustLease(owned("w1", ts(1)), "a", "a1", "a2", "a3", "a4")
	e.mustLease(owned("w2", ts(2)), "b", "b1", "b2", "b3")
	e.noLease(owned("w1", ts(2)))
	e.noLease(owned("w3", ts(2)))

	e.synced(la, ts(3), "a1")
	la2 := e.mustLease(owned("w2", ts(3)), "a", "a2", "a3", "a4")
	if la2.ID == la.ID {
		t.Errorf("new lease reuses the settled lease's ID %q", la.ID)
	}
}

// testLeaseExpires checks that an abandoned lease stops protecting its
// module once its TTL has passed on the store's clock, and that the
// records come out again from the head. The TTL passes in real time here,
// so that a store measuring it on the monotonic clock is held to it too.
func testLeaseExpires(t *testing.T, e *env) {
	appendAB(e)
	const ttl = 1500 * time.Millisecond
	short := func(now time.Time, max int) bridge.LeaseParams { p := lp(now, max); p.TTL = ttl; return p }
	la := e.mustLease(short(ts(1), 10), "a", "a1", "a2", "a3", "a4")
	// A live lease on b keeps b out of the leases below.
	e.mustLease(lp(ts(2), 10), "b", "b1", "b2", "b3")
	e.noLease(short(ts(1), 10))
	time.Sleep(ttl + 100*time.Millisecond)
	la2 := e.mustLease(lp(ts(1).Add(ttl+100*time.Millisecond), 2), "a", "a1", "a2")
	if la2.ID == la.ID {
		t.Errorf("new lease reuses the expired lease's ID %q", la.ID)
	}
	for _, r := range la2.Records {
		if r.Attempts != 0 {
			t.Errorf("%s.Attempts = %d after an expired lease, want 0 (only Settle counts attempts)", r.ID, r.Attempts)
		}
	}
}

// testLeaseSurvivesStepForward checks that a live lease still holds its
// module when the caller's wall clock jumps past its TTL: the batch may
// still be in flight.
func testLeaseSurvivesStepForward(t *testing.T, e *env) {
	appendAB(e)
	la := e.mustLease(lp(ts(1), 10), "a", "a1", "a2", "a3", "a4")
	e.mustLease(lp(ts(1), 10), "b", "b1", "b2", "b3")
	e.noLease(lp(la.Expires.Add(2*time.Hour), 10))
	e.synced(la, ts(2), "a1")
	e.mustLease(lp(ts(2), 10), "a", "a2", "a3", "a4")
}

// testLeaseAfterStepBack checks MaxWait: after the wall clock stepped
// back, records due further ahead than MaxWait (accepted or retried
// before the step) are due now; nearer ones wait as usual, and without
// MaxWait nothing changes.
func testLeaseAfterStepBack(t *testing.T, e *env) {
	e.append(rec("a1", "a", 3600), rec("a2", "a", 3600), rec("b1", "b", 3600))
	la := e.mustLease(lp(ts(3600), 1), "a", "a1")
	e.settle(bridge.Settlement{LeaseID: la.ID, Module: "a", Now: ts(3600),
		Retry: []string{"a1"}, RetryAt: ts(3660), Error: "bucket: 503"})
	within := func(now time.Time, wait time.Duration) bridge.LeaseParams {
		p := lp(now, 10)
		p.MaxWait = wait
		return p
	}
	// The clock steps back an hour: a due time an hour ahead is no wait.
	e.noLease(lp(ts(0), 10))
	e.noLease(within(ts(3000), 11*time.Minute)) // 10 and 11 min ahead: waits
	lb := e.mustLease(within(ts(0), 11*time.Minute), "a", "a1", "a2")
	e.mustLease(within(ts(0), 11*time.Minute), "b", "b1")
	if !(bridge.LeaseParams{Now: ts(0), MaxWait: time.Minute}).Due(ts(61)) || (bridge.LeaseParams{Now: ts(0), MaxWait: time.Minute}).Due(ts(60)) {
		t.Errorf("Due: 61 s ahead with MaxWait 1m must be due, 60 s ahead not")
	}
	e.synced(lb, ts(1), "a1", "a2")
}

// testHeadOfLine checks per-module order: a head batch waiting to be retried
// blocks its module, though newer records are due, and only its module.
func testHeadOfLine(t *testing.T, e *env) {
	appendAB(e)
	la := e.mustLease(lp(ts(1), 2), "a", "a1", "a2")
	e.settle(bridge.Settlement{LeaseID: la.ID, Module: "a", Now: ts(2),
		Retry: []string{"a1", "a2"}, RetryAt: ts(60), Error: "bucket: 503"})

	// b's lease, live to ts(90), keeps b out of the rest.
	e.mustLease(lp(ts(30), 10), "b", "b1", "b2", "b3")
	e.noLease(lp(ts(30), 10))
	e.noLease(lp(ts(60).Add(-time.Microsecond), 10))
	e.mustLease(lp(ts(60), 10), "a", "a1", "a2", "a3", "a4")
}
