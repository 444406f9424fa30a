package storetest

import (
	"slices"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// env is one subtest's store, with calls that fail the test on error so
// that the cases read as the contract they check.
type env struct {
	t    *testing.T
	s    bridge.Store
	open func() (bridge.Store, error)
}

func newEnv(t *testing.T, h Harness) *env {
	t.Helper()
	e := &env{t: t, open: h.New(t)}
	e.s = e.mustOpen()
	t.Cleanup(func() {
		if e.s != nil {
			if err := e.s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	return e
}

func (e *env) mustOpen() bridge.Store {
	e.t.Helper()
	s, err := e.open()
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	return s
}

// reopen closes the store and opens it again on the same location.
func (e *env) reopen() {
	e.t.Helper()
	s := e.s
	e.s = nil
	if err := s.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.s = e.mustOpen()
}

func (e *env) append(recs ...bridge.NewRecord) []bridge.Appended {
	e.t.Helper()
	got, err := e.s.Append(e.t.Context(), recs)
	if err != nil {
		e.t.Fatalf("Append: %v", err)
	}
	if len(got) != len(recs) {
		e.t.Fatalf("Append returned %d results for %d records", len(got), len(recs))
	}
	return got
}

func (e *env) get(id string) bridge.Record {
	e.t.Helper()
	r, err := e.s.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("Get(%q): %v", id, err)
	}
	return r
}

// notFound asserts that id is not stored.
func (e *env) notFound(id string) {
	e.t.Helper()
	r, err := e.s.Get(e.t.Context(), id)
	if code := bridge.ErrorCode(err); code != bridge.ENOTFOUND {
		e.t.Errorf("Get(%q) = %+v, %v (code %q), want code %q", id, r, err, code, bridge.ENOTFOUND)
	}
}

// lp is a lease of up to max records at now, with a TTL of one minute.
func lp(now time.Time, max int) bridge.LeaseParams {
	return bridge.LeaseParams{Owner: "storetest", Now: now, TTL: time.Minute, MaxRecords: max}
}

func (e *env) lease(p bridge.LeaseParams) *bridge.Lease {
	e.t.Helper()
	l, err := e.s.Lease(e.t.Context(), p)
	if err != nil {
		e.t.Fatalf("Lease(%+v): %v", p, err)
	}
	return l
}

// mustLease leases with p and asserts that the lease is of module and holds
// exactly the records want, in that order.
func (e *env) mustLease(p bridge.LeaseParams, module string, want ...string) *bridge.Lease {
	e.t.Helper()
	l := e.lease(p)
	if l == nil {
		e.t.Fatalf("Lease(Now %v) = nil, want module %q records %v", p.Now, module, want)
	}
	if got := ids(l.Records); l.Module != module || !slices.Equal(got, want) {
		e.t.Fatalf("Lease(Now %v) = module %q records %v, want module %q records %v",
			p.Now, l.Module, got, module, want)
	}
	if l.ID == "" {
		e.t.Errorf("Lease.ID is empty")
	}
	// Expires is on the store's clock, which runs on this machine or
	// one near it in tests: about now + TTL, whatever p.Now says.
	if want := time.Now().Add(p.TTL); l.Expires.Before(want.Add(-30*time.Second)) || l.Expires.After(want.Add(30*time.Second)) {
		e.t.Errorf("Lease.Expires = %v, want about now+TTL = %v", l.Expires, want)
	}
	if l.Owner != p.Owner || l.Epoch <= 0 {
		e.t.Errorf("Lease.Owner, Epoch = %q, %d; want %q, > 0", l.Owner, l.Epoch, p.Owner)
	}
	return l
}

// noLease asserts that nothing can be leased with p.
func (e *env) noLease(p bridge.LeaseParams) {
	e.t.Helper()
	if l := e.lease(p); l != nil {
		e.t.Fatalf("Lease(Now %v) = module %q records %v, want nil", p.Now, l.Module, ids(l.Records))
	}
}

func (e *env) settle(s bridge.Settlement) {
	e.t.Helper()
	if err := e.s.Settle(e.t.Context(), s); err != nil {
		e.t.Fatalf("Settle(%+v): %v", s, err)
	}
}

// synced settles the records named in l as synced at now.
func (e *env) synced(l *bridge.Lease, now time.Time, ids ...string) {
	e.t.Helper()
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: now, Synced: ids})
}

// dead settles the records named in l as dead at now, each with the reason
// "reason-<id>".
func (e *env) dead(l *bridge.Lease, now time.Time, ids ...string) {
	e.t.Helper()
	s := bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: now}
	for _, id := range ids {
		s.Dead = append(s.Dead, bridge.DeadMark{ID: id, Reason: "reason-" + id})
	}
	e.settle(s)
}

// release gives l back without an outcome for any of its records.
func (e *env) release(l *bridge.Lease, now time.Time) {
	e.t.Helper()
	e.settle(bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: now})
}

func (e *env) replay(p bridge.ReplayParams) int {
	e.t.Helper()
	n, err := e.s.ReplayDead(e.t.Context(), p)
	if err != nil {
		e.t.Fatalf("ReplayDead(%+v): %v", p, err)
	}
	return n
}

func (e *env) listDead(q bridge.DeadQuery) []bridge.Record {
	e.t.Helper()
	rs, err := e.s.ListDead(e.t.Context(), q)
	if err != nil {
		e.t.Fatalf("ListDead(%+v): %v", q, err)
	}
	return rs
}

func (e *env) stats() bridge.Stats {
	e.t.Helper()
	st, err := e.s.Stats(e.t.Context())
	if err != nil {
		e.t.Fatalf("Stats: %v", err)
	}
	return st
}

func (e *env) modules() []bridge.ModuleSummary {
	e.t.Helper()
	ms, err := e.s.Modules(e.t.Context())
	if err != nil {
		e.t.Fatalf("Modules: %v", err)
	}
	return ms
}
