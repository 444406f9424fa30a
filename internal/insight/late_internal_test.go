package insight

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/store/storetest"
)

// flaky is a store whose AddRollups fails while fail is set.
type flaky struct {
	bridge.Store
	fail atomic.Bool
}

func (f *flaky) AddRollups(ctx context.Context, rs []bridge.Rollup) error {
	if f.fail.Load() {
		return errors.New("disk full")
	}
	return f.Store.AddRollups(ctx, rs)
}

// TestLateCountsCountOnce: rejected-input counts whose write fails until
// their minute has settled are counted while held, and exactly once after
// they reach the store, by the warm window and by a fresh one alike.
func TestLateCountsCountOnce(t *testing.T) {
	st := storetest.NewMem()
	defer st.Close()
	store := &flaky{Store: st}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Second)
	clock := func() time.Time { return now }
	h, err := New(Config{Store: store, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	rejected := func() int64 {
		t.Helper()
		f, err := h.Figures(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return f.Totals.Rejected
	}
	h.Ingest("update", "m", 422, 2)
	store.fail.Store(true)
	if err := h.flushCounts(t.Context()); err == nil {
		t.Fatal("flush did not fail")
	}
	if n := rejected(); n != 2 {
		t.Fatalf("held counts: %d, want 2", n)
	}
	now = t0.Add(5 * time.Minute) // 10:00 has long settled, read without them
	if n := rejected(); n != 2 {
		t.Fatalf("held counts after their minute settled: %d, want 2", n)
	}
	store.fail.Store(false)
	if err := h.flushCounts(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := rejected(); n != 2 {
		t.Fatalf("after the late write: %d, want 2 (once)", n)
	}
	fresh, _ := New(Config{Store: store, Now: clock})
	if f, _ := fresh.Figures(t.Context()); f.Totals.Rejected != 2 {
		t.Fatalf("a fresh window: %d, want 2", f.Totals.Rejected)
	}
}
