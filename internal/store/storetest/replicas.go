package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// replicas are the cases run for stores that several handles share
// (Harness.Replicas): what serve replicas on one database rely on.
var replicas = []test{
	{"DedupeAcrossHandles", testReplicaDedupe},
	{"LeasesTakeDistinctModules", testReplicaLeases},
	{"StaleSettleIsRefused", testReplicaStaleSettle},
	{"ReleaseLeavesOtherOwners", testReplicaRelease},
	{"ModuleOrderIsCommitOrder", testReplicaCommitOrder},
}

// handle opens another handle on e's store, closed at the end of the test.
func (e *env) handle() bridge.Store {
	e.t.Helper()
	s := e.mustOpen()
	e.t.Cleanup(func() { s.Close() })
	return s
}

// testReplicaDedupe appends the same update with the same key through two
// handles at once, many times: each key is stored once, and both callers
// are told the same id.
func testReplicaDedupe(t *testing.T, e *env) {
	h := []bridge.Store{e.s, e.handle()}
	const keys = 50
	got := make([][2]bridge.Appended, keys)
	var wg sync.WaitGroup
	for i := range keys {
		for j := range 2 {
			wg.Go(func() {
				r := keyed(rec(fmt.Sprintf("k%02d-h%d", i, j), "m", 1), fmt.Sprintf("key-%02d", i))
				r.SessionID = fmt.Sprintf("sess-%02d", i)
				r.Data = []byte(fmt.Sprintf(`{"n":%d}`, i))
				a, err := h[j].Append(t.Context(), []bridge.NewRecord{r})
				if err != nil {
					t.Errorf("Append through handle %d: %v", j, err)
					return
				}
				got[i][j] = a[0]
			})
		}
	}
	wg.Wait()
	for i, g := range got {
		if g[0].ID != g[1].ID || g[0].Duplicate == g[1].Duplicate {
			t.Errorf("key %d: handles got %+v and %+v; want the same id, one of them a duplicate", i, g[0], g[1])
		}
	}
	if st := e.stats(); st.Received != keys || st.Pending != keys {
		t.Errorf("stats %+v, want %d received and pending", st, keys)
	}
}

// testReplicaLeases leases through two handles at once: they get
// different modules, never the same records.
func testReplicaLeases(t *testing.T, e *env) {
	want := appendModules(e, 4, 3)
	h := []bridge.Store{e.s, e.handle()}
	var (
		mu  sync.Mutex
		got = map[string]string{} // module → handle
	)
	var wg sync.WaitGroup
	for j := range 2 {
		wg.Go(func() {
			for range 2 {
				l, err := h[j].Lease(t.Context(), bridge.LeaseParams{Owner: fmt.Sprint("h", j), Now: ts(1), TTL: time.Minute, MaxRecords: 10})
				if err != nil || l == nil {
					t.Errorf("Lease through handle %d = %v, %v", j, l, err)
					return
				}
				mu.Lock()
				if o, ok := got[l.Module]; ok {
					t.Errorf("module %s leased by %s and h%d", l.Module, o, j)
				}
				got[l.Module] = fmt.Sprint("h", j)
				mu.Unlock()
				if !slices.Equal(ids(l.Records), want[l.Module]) {
					t.Errorf("lease of %s = %v, want %v", l.Module, ids(l.Records), want[l.Module])
				}
			}
		})
	}
	wg.Wait()
	if len(got) != 4 {
		t.Errorf("%d modules leased, want 4", len(got))
	}
	e.noLease(lp(ts(1), 10))
}

// testReplicaStaleSettle: a lease of one handle expires and another
// handle leases the module; the first handle's settle is refused.
func testReplicaStaleSettle(t *testing.T, e *env) {
	appendAB(e)
	other := e.handle()
	const ttl = 1200 * time.Millisecond
	p := lp(ts(1), 2)
	p.TTL, p.Owner = ttl, "h1"
	old := e.mustLease(p, "a", "a1", "a2")
	time.Sleep(ttl + 100*time.Millisecond)
	cur, err := other.Lease(t.Context(), bridge.LeaseParams{Owner: "h2", Now: ts(2), TTL: time.Minute, MaxRecords: 2})
	if err != nil || cur == nil || cur.Module != "a" {
		t.Fatalf("lease through the other handle = %+v, %v; want module a", cur, err)
	}
	lostLease(t, "stale Settle", e.s.Settle(t.Context(), bridge.Settlement{LeaseID: old.ID, Module: "a", Now: ts(3), Synced: ids(old.Records)}))
	lostLease(t, "stale ExtendLease", e.s.ExtendLease(t.Context(), old, time.Minute))
	if err := other.Settle(t.Context(), bridge.Settlement{LeaseID: cur.ID, Module: "a", Now: ts(3), Synced: ids(cur.Records)}); err != nil {
		t.Fatalf("Settle of the live lease: %v", err)
	}
	if st := e.stats(); st.Synced != 2 {
		t.Errorf("synced = %d, want 2", st.Synced)
	}
}

// testReplicaRelease: owner A's leases are released through one handle;
// owner B's, taken through another, stay.
func testReplicaRelease(t *testing.T, e *env) {
	appendAB(e)
	other := e.handle()
	pa := lp(ts(1), 10)
	pa.Owner = "A"
	e.mustLease(pa, "a", "a1", "a2", "a3", "a4")
	lb, err := other.Lease(t.Context(), bridge.LeaseParams{Owner: "B", Now: ts(1), TTL: time.Minute, MaxRecords: 10})
	if err != nil || lb == nil || lb.Module != "b" {
		t.Fatalf("B's lease = %+v, %v", lb, err)
	}
	if n, err := other.ReleaseLeases(t.Context(), "A"); err != nil || n != 1 {
		t.Fatalf("ReleaseLeases(A) = %d, %v; want 1", n, err)
	}
	e.mustLease(lp(ts(2), 10), "a", "a1", "a2", "a3", "a4")
	e.noLease(lp(ts(2), 10))
	if err := other.Settle(t.Context(), bridge.Settlement{LeaseID: lb.ID, Module: "b", Now: ts(2), Synced: ids(lb.Records)}); err != nil {
		t.Fatalf("B's settle: %v", err)
	}
}

// testReplicaKilled: a handle leases a batch, delivers it and dies before
// it settles. Its module waits out the TTL, then another handle takes it
// over; the Bucket (a map here) sees the ids again and answers duplicate,
// so it holds each record once, and every record ends synced once.
func testReplicaKilled(t *testing.T, e *env, kill func(bridge.Store)) {
	want := appendModules(e, 2, 5)
	victim, survivor := e.handle(), e.handle()
	bucket := map[string]int{}
	deliver := func(l *bridge.Lease) (stored, dup int) {
		for _, r := range l.Records {
			if bucket[r.ID]++; bucket[r.ID] == 1 {
				stored++
			} else {
				dup++
			}
		}
		return
	}
	const ttl = 1500 * time.Millisecond
	l, err := victim.Lease(t.Context(), bridge.LeaseParams{Owner: "victim", Now: ts(1), TTL: ttl, MaxRecords: 3})
	if err != nil || l == nil {
		t.Fatalf("victim's lease = %v, %v", l, err)
	}
	deliver(l)
	killed := time.Now()
	kill(victim)

	p := bridge.LeaseParams{Owner: "survivor", Now: ts(2), TTL: time.Minute, MaxRecords: 10}
	var took *bridge.Lease
	for took == nil || took.Module != l.Module {
		nl, err := survivor.Lease(t.Context(), p)
		if err != nil {
			t.Fatalf("survivor's lease: %v", err)
		}
		switch {
		case nl != nil && nl.Module == l.Module:
			took = nl
			if since := time.Since(killed); since < ttl-200*time.Millisecond {
				t.Fatalf("module %s taken over %v after the kill, before its TTL %v", l.Module, since, ttl)
			}
		case nl != nil:
			deliver(nl)
			if err := survivor.Settle(t.Context(), bridge.Settlement{LeaseID: nl.ID, Module: nl.Module, Now: ts(2), Synced: ids(nl.Records)}); err != nil {
				t.Fatal(err)
			}
		default:
			if time.Since(killed) > ttl+10*time.Second {
				t.Fatalf("module %s not taken over %v after the kill", l.Module, time.Since(killed))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !slices.Equal(ids(took.Records), want[l.Module]) {
		t.Errorf("take-over lease = %v, want the module's records from its head %v", ids(took.Records), want[l.Module])
	}
	if _, dup := deliver(took); dup != len(l.Records) {
		t.Errorf("the Bucket saw %d duplicates in the take-over, want the victim's %d", dup, len(l.Records))
	}
	if err := survivor.Settle(t.Context(), bridge.Settlement{LeaseID: took.ID, Module: took.Module, Now: ts(3), Synced: ids(took.Records)}); err != nil {
		t.Fatal(err)
	}
	for id, n := range bucket {
		if n > 2 {
			t.Errorf("the Bucket was sent %s %d times", id, n)
		}
	}
	if st := e.stats(); st.Synced != 10 || st.Pending != 0 {
		t.Errorf("stats %+v, want 10 synced, none pending", st)
	}
}

// testReplicaCommitOrder appends to one module through two handles at
// once while two others drain it: the records go out in seq order, each
// once, and none is passed by a later seq (a store that hands out seqs
// before commit without ordering commits per module would deliver a
// later seq first and then the earlier one); no lease is empty (a claim
// racing a settle on another handle must not hand out a drained module).
func testReplicaCommitOrder(t *testing.T, e *env) {
	h := []bridge.Store{e.handle(), e.handle()}
	const perHandle, batch = 200, 4
	var wg sync.WaitGroup
	for j := range 2 {
		wg.Go(func() {
			for i := 0; i < perHandle; i += batch {
				var rs []bridge.NewRecord
				for k := range batch {
					rs = append(rs, rec(fmt.Sprintf("h%d-%04d", j, i+k), "m", 1))
				}
				if _, err := h[j].Append(t.Context(), rs); err != nil {
					t.Errorf("Append through handle %d: %v", j, err)
					return
				}
			}
		})
	}
	appended := make(chan struct{})
	go func() { wg.Wait(); close(appended) }()
	var (
		mu   sync.Mutex
		last int64
		seen = map[string]bool{}
	)
	drain := func(s bridge.Store, owner string) {
		done := false
		for !done && !t.Failed() {
			select {
			case <-appended:
				done = true // one more drain after the last append
			default:
			}
			for !t.Failed() {
				l, err := s.Lease(t.Context(), bridge.LeaseParams{Owner: owner, Now: ts(2), TTL: time.Minute, MaxRecords: 7})
				if err != nil {
					t.Errorf("Lease: %v", err)
					return
				}
				if l == nil {
					break
				}
				if len(l.Records) == 0 {
					t.Errorf("Lease by %s returned module %s with no records", owner, l.Module)
					return
				}
				mu.Lock()
				for _, r := range l.Records {
					if r.Seq <= last {
						t.Errorf("record %s (seq %d) delivered after seq %d: module order broken", r.ID, r.Seq, last)
					}
					if seen[r.ID] {
						t.Errorf("record %s delivered twice", r.ID)
					}
					last, seen[r.ID] = r.Seq, true
				}
				mu.Unlock()
				if err := s.Settle(t.Context(), bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: ts(3), Synced: ids(l.Records)}); err != nil {
					t.Errorf("Settle: %v", err)
					return
				}
			}
		}
	}
	var drainers sync.WaitGroup
	drainers.Go(func() { drain(e.s, "drain-1") })
	drainers.Go(func() { drain(e.handle(), "drain-2") })
	drainers.Wait()
	if len(seen) != 2*perHandle {
		t.Errorf("%d records delivered, want %d", len(seen), 2*perHandle)
	}
}
