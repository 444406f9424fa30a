package storetest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// appendModules appends n records to each of modules m0…m(k-1), interleaved,
// and returns each module's ids in acceptance order.
func appendModules(e *env, k, n int) map[string][]string {
	want := map[string][]string{}
	var batch []bridge.NewRecord
	for i := range n {
		for m := range k {
			module, id := fmt.Sprintf("m%d", m), fmt.Sprintf("m%d-%03d", m, i)
			batch = append(batch, rec(id, module, 0))
			want[module] = append(want[module], id)
		}
	}
	e.append(batch...)
	return want
}

// testConcurrentLeaseOnce starts more leases at once than there are modules:
// each module goes to exactly one of them.
func testConcurrentLeaseOnce(t *testing.T, e *env) {
	const modules, workers = 8, 16
	want := appendModules(e, modules, 3)
	leases := make([]*bridge.Lease, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			<-start
			p := bridge.LeaseParams{Owner: fmt.Sprintf("w%d", i), Now: ts(1), TTL: time.Hour, MaxRecords: 10}
			l, err := e.s.Lease(t.Context(), p)
			if err != nil {
				t.Errorf("Lease by w%d: %v", i, err)
			}
			leases[i] = l
		})
	}
	close(start)
	wg.Wait()

	got := map[string]bool{}
	for _, l := range leases {
		if l == nil {
			continue
		}
		if got[l.Module] {
			t.Errorf("module %s leased by two workers at once", l.Module)
		}
		got[l.Module] = true
		if !slices.Equal(ids(l.Records), want[l.Module]) {
			t.Errorf("lease of %s = %v, want %v", l.Module, ids(l.Records), want[l.Module])
		}
	}
	if len(got) != modules {
		t.Errorf("%d modules leased by %d concurrent workers, want all %d", len(got), workers, modules)
	}
}

// testConcurrentDrain has workers lease and settle until everything is
// synced, and checks that no module is ever held twice and that each
// module's records went out once each, in acceptance order.
func testConcurrentDrain(t *testing.T, e *env) {
	const modules, perModule, workers = 6, 25, 8
	want := appendModules(e, modules, perModule)
	var (
		mu   sync.Mutex
		held = map[string]bool{}
		got  = map[string][]string{}
		done atomic.Int64
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for idle := 0; done.Load() < modules*perModule; {
				p := bridge.LeaseParams{Owner: fmt.Sprintf("w%d", w), Now: ts(1), TTL: time.Hour, MaxRecords: 1 + w%4}
				l, err := e.s.Lease(t.Context(), p)
				if err != nil {
					t.Errorf("Lease by w%d: %v", w, err)
					return
				}
				if l == nil {
					if idle++; idle > 10000 {
						t.Errorf("w%d: no lease after %d tries with %d of %d synced", w, idle, done.Load(), modules*perModule)
						return
					}
					time.Sleep(100 * time.Microsecond)
					continue
				}
				idle = 0
				mu.Lock()
				if held[l.Module] {
					t.Errorf("module %s leased by w%d while another worker holds it", l.Module, w)
				}
				held[l.Module] = true
				got[l.Module] = append(got[l.Module], ids(l.Records)...)
				mu.Unlock()

				time.Sleep(50 * time.Microsecond) // deliver: the window in which another lease would overlap
				mu.Lock()
				delete(held, l.Module) // before Settle, while the store still holds the lease
				mu.Unlock()
				s := bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: ts(2), Synced: ids(l.Records)}
				if err := e.s.Settle(t.Context(), s); err != nil {
					t.Errorf("Settle by w%d: %v", w, err)
					return
				}
				done.Add(int64(len(l.Records)))
			}
		})
	}
	wg.Wait()
	for m, w := range want {
		if !slices.Equal(got[m], w) {
			t.Errorf("module %s went out as %v, want %v", m, got[m], w)
		}
	}
	var wantCounts []bridge.ModuleSummary
	for m := range modules {
		wantCounts = append(wantCounts, counts(fmt.Sprintf("m%d", m), perModule, 0, perModule, 0))
	}
	checkCounts(t, e, wantCounts...)
}

// testConcurrentAppend runs many Appends at once, each of a small batch.
func testConcurrentAppend(t *testing.T, e *env) {
	const goroutines, calls = 16, 200
	perG := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for c := range calls {
				var batch []bridge.NewRecord
				for i := range 1 + c%3 {
					id := fmt.Sprintf("g%02d-c%03d-%d", g, c, i)
					batch = append(batch, rec(id, fmt.Sprintf("m%d", g%4), 0))
					perG[g] = append(perG[g], id)
				}
				if _, err := e.s.Append(t.Context(), batch); err != nil {
					t.Errorf("Append by goroutine %d: %v", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var total int64
	seqs := map[int64]string{}
	for g, list := range perG {
		total += int64(len(list))
		var last int64
		for _, id := range list {
			seq := e.get(id).Seq
			if seq <= last {
				t.Errorf("goroutine %d: Seq of %s = %d, want > %d (its own append order)", g, id, seq, last)
			}
			if other, ok := seqs[seq]; ok {
				t.Errorf("Seq %d given to both %s and %s", seq, other, id)
			}
			seqs[seq], last = id, seq
		}
	}
	if st := e.stats(); st.Received != total || st.Pending != total {
		t.Errorf("Stats after %d concurrent appends: Received %d, Pending %d; want %d", total, st.Received, st.Pending, total)
	}
}
