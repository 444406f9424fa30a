package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/store/sqlite"
	"corebridge/internal/store/storetest"
)

// fakeSender is a Bucket whose answers the test writes.
type fakeSender struct {
	SendFn    func(ctx context.Context, recs []bridge.Record) ([]bucket.Result, error)
	HealthyFn func(ctx context.Context) error

	mu      sync.Mutex
	batches [][]bridge.Record // every batch Send was called with, in order
	probes  int               // Healthy calls
}

var _ Sender = (*fakeSender)(nil)

func (s *fakeSender) Send(ctx context.Context, recs []bridge.Record) ([]bucket.Result, error) {
	s.mu.Lock()
	s.batches = append(s.batches, slices.Clone(recs))
	s.mu.Unlock()
	if s.SendFn == nil {
		return storeAll(recs), nil
	}
	return s.SendFn(ctx, recs)
}

func (s *fakeSender) Healthy(ctx context.Context) error {
	s.mu.Lock()
	s.probes++
	s.mu.Unlock()
	if s.HealthyFn == nil {
		return nil
	}
	return s.HealthyFn(ctx)
}

// sends returns how many batches Send was called with.
func (s *fakeSender) sends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

// probeCount returns how many times Healthy was called.
func (s *fakeSender) probeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probes
}

// sent returns the ids of every record sent, per module, in send order.
func (s *fakeSender) sent() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for _, b := range s.batches {
		for _, r := range b {
			out[r.Module] = append(out[r.Module], r.ID)
		}
	}
	return out
}

// storeAll answers "stored" for every record.
func storeAll(recs []bridge.Record) []bucket.Result {
	out := make([]bucket.Result, len(recs))
	for i, r := range recs {
		out[i] = bucket.Result{ID: r.ID, Status: bucket.StatusStored}
	}
	return out
}

// clock is a settable time source for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newStore returns an in-memory store: these tests are of the forwarder,
// not of SQLite.
func newStore(t *testing.T) *storetest.Mem { return storetest.NewMem() }

// newSQLiteStore opens a real SQLite store in a temporary directory, for
// the end-to-end test.
func newSQLiteStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// half is the fixed jitter draw: the wait is half the ceiling.
func half() float64 { return 0.5 }

// newForwarder returns a forwarder on the test clock with a fixed draw of
// 0.5, unless cfg says otherwise.
func newForwarder(st bridge.Store, s Sender, clk *clock, cfg Config) *Forwarder {
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = half
	}
	return New(st, s, discard(), cfg)
}

// appendRecs appends one record per module name, in order, received at at,
// with ids "<module>-<n>" numbered per module from start. It returns the ids.
func appendRecs(t *testing.T, st bridge.Store, at time.Time, start int, modules ...string) []string {
	t.Helper()
	n := map[string]int{}
	recs := make([]bridge.NewRecord, len(modules))
	ids := make([]string, len(modules))
	for i, m := range modules {
		ids[i] = fmt.Sprintf("%s-%04d", m, start+n[m])
		n[m]++
		recs[i] = bridge.NewRecord{ID: ids[i], Module: m, SessionID: "s1",
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), ReceivedAt: bridge.Truncate(at)}
	}
	if _, err := st.Append(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return ids
}

// repeat returns module n times.
func repeat(module string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = module
	}
	return out
}

func get(t *testing.T, st bridge.Store, id string) bridge.Record {
	t.Helper()
	r, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return r
}

func attempts(t *testing.T, st bridge.Store, id string) []bridge.Attempt {
	t.Helper()
	a, err := st.Attempts(context.Background(), id)
	if err != nil {
		t.Fatalf("attempts of %s: %v", id, err)
	}
	return a
}

// runOnce calls f.RunOnce and fails the test on an error.
func runOnce(t *testing.T, f *Forwarder) bool {
	t.Helper()
	did, err := f.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return did
}

// drain calls RunOnce until it finds nothing more to do, and returns how
// many batches it settled.
func drain(t *testing.T, f *Forwarder) int {
	t.Helper()
	n := 0
	for runOnce(t, f) {
		n++
		if n > 10000 {
			t.Fatal("RunOnce never ran dry")
		}
	}
	return n
}
