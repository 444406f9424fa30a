package storetest

import (
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// lostLease asserts that err refuses a lease that is no longer live.
func lostLease(t *testing.T, what string, err error) {
	t.Helper()
	if !bridge.IsLeaseLost(err) || bridge.ErrorCode(err) != bridge.ECONFLICT {
		t.Fatalf("%s: %v (code %q), want ECONFLICT wrapping *LeaseLost", what, err, bridge.ErrorCode(err))
	}
}

// testStaleSettle checks fencing: a lease that expired and whose module was
// leased again cannot settle; it changes nothing, and the lease that holds
// the module now settles as usual.
func testStaleSettle(t *testing.T, e *env) {
	appendAB(e)
	const ttl = 1200 * time.Millisecond
	p := lp(ts(1), 2)
	p.TTL, p.Owner = ttl, "w1"
	old := e.mustLease(p, "a", "a1", "a2")
	time.Sleep(ttl + 100*time.Millisecond)
	p2 := lp(ts(2), 2)
	p2.Owner = "w2"
	cur := e.mustLease(p2, "a", "a1", "a2")
	if cur.Epoch <= old.Epoch {
		t.Errorf("epoch of the new lease = %d, want > %d (the expired one's)", cur.Epoch, old.Epoch)
	}
	lostLease(t, "Settle of the expired lease", e.s.Settle(t.Context(),
		bridge.Settlement{LeaseID: old.ID, Module: "a", Now: ts(3), Synced: []string{"a1"}, Dead: []bridge.DeadMark{{ID: "a2", Reason: "x"}}}))
	for _, id := range []string{"a1", "a2"} {
		if r := e.get(id); r.State != bridge.StatePending || r.Attempts != 0 {
			t.Errorf("%s after a refused settle: state %v, %d attempts; want pending, 0", id, r.State, r.Attempts)
		}
	}
	if st := e.stats(); st.Synced != 0 || st.Dead != 0 {
		t.Errorf("stats after a refused settle: %+v", st)
	}
	e.synced(cur, ts(4), "a1", "a2")
	lostLease(t, "second Settle of a settled lease", e.s.Settle(t.Context(),
		bridge.Settlement{LeaseID: cur.ID, Module: "a", Now: ts(5), Synced: []string{"a1"}}))
	if st := e.stats(); st.Synced != 2 {
		t.Errorf("synced = %d, want 2", st.Synced)
	}
}

// testExpiredSettle checks that a lease past its TTL cannot settle even
// when nobody leased its module since: it is no longer live.
func testExpiredSettle(t *testing.T, e *env) {
	appendAB(e)
	const ttl = 1200 * time.Millisecond
	p := lp(ts(1), 1)
	p.TTL = ttl
	l := e.mustLease(p, "a", "a1")
	time.Sleep(ttl + 100*time.Millisecond)
	lostLease(t, "Settle after the TTL", e.s.Settle(t.Context(), bridge.Settlement{LeaseID: l.ID, Module: "a", Now: ts(2), Synced: []string{"a1"}}))
	e.mustLease(lp(ts(2), 1), "a", "a1")
}

// testExtendLease checks that ExtendLease keeps a slow batch's module,
// and that an expired lease is not revived.
func testExtendLease(t *testing.T, e *env) {
	appendAB(e)
	const ttl = 1200 * time.Millisecond
	p := lp(ts(1), 2)
	p.TTL = ttl
	l := e.mustLease(p, "a", "a1", "a2")
	before := l.Expires
	if err := e.s.ExtendLease(t.Context(), l, time.Minute); err != nil {
		t.Fatalf("ExtendLease: %v", err)
	}
	if !l.Expires.After(before) {
		t.Errorf("Expires after ExtendLease = %v, want after %v", l.Expires, before)
	}
	time.Sleep(ttl + 100*time.Millisecond)
	e.mustLease(lp(ts(2), 10), "b", "b1", "b2", "b3")
	e.noLease(lp(ts(2), 10)) // a is still held
	e.synced(l, ts(3), "a1", "a2")

	p.Now = ts(4)
	short := e.mustLease(p, "a", "a3", "a4")
	time.Sleep(ttl + 100*time.Millisecond)
	lostLease(t, "ExtendLease after the TTL", e.s.ExtendLease(t.Context(), short, time.Minute))
}

// testReleaseByOwner checks that ReleaseLeases frees its owner's leases
// only, and that a released lease cannot settle.
func testReleaseByOwner(t *testing.T, e *env) {
	appendAB(e)
	pa, pb := lp(ts(1), 10), lp(ts(1), 10)
	pa.Owner, pb.Owner = "A", "B"
	la := e.mustLease(pa, "a", "a1", "a2", "a3", "a4")
	lb := e.mustLease(pb, "b", "b1", "b2", "b3")
	n, err := e.s.ReleaseLeases(t.Context(), "A")
	if err != nil || n != 1 {
		t.Fatalf("ReleaseLeases(A) = %d, %v; want 1", n, err)
	}
	if la.Owner != "A" || lb.Owner != "B" {
		t.Errorf("Lease.Owner = %q, %q; want A, B", la.Owner, lb.Owner)
	}
	lostLease(t, "Settle of a released lease", e.s.Settle(t.Context(), bridge.Settlement{LeaseID: la.ID, Module: "a", Now: ts(2), Synced: []string{"a1"}}))
	e.mustLease(lp(ts(2), 1), "a", "a1")
	e.noLease(lp(ts(2), 10))
	e.synced(lb, ts(2), "b1")
}
