package ingest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// gatedStore records the size of each Append and holds the first one
// until gate is closed.
type gatedStore struct {
	bridge.Store // only Append is called
	gate         chan struct{}
	mu           sync.Mutex
	sizes        []int
}

func (g *gatedStore) Append(_ context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	g.mu.Lock()
	first := len(g.sizes) == 0
	g.sizes = append(g.sizes, len(recs))
	g.mu.Unlock()
	if first {
		<-g.gate
	}
	out := make([]bridge.Appended, len(recs))
	for i, r := range recs {
		out[i] = bridge.Appended{ID: r.ID}
	}
	return out, nil
}

func (g *gatedStore) commits() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

func startCommitter(t *testing.T, st bridge.Store, wait time.Duration) *Writer {
	w := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{MaxPending: -1, Wait: wait})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return w
}

func submitOne(t *testing.T, w *Writer, id string, wg *sync.WaitGroup) {
	wg.Go(func() {
		if _, err := w.Submit(context.Background(), []bridge.NewRecord{{ID: id}}); err != nil {
			t.Error(err)
		}
	})
}

// A lone request is committed at once, however long the wait is set.
func TestCommitWaitLoneRequestDoesNotWait(t *testing.T) {
	st := &gatedStore{gate: make(chan struct{})}
	close(st.gate)
	c := startCommitter(t, st, time.Minute)
	start := time.Now()
	var wg sync.WaitGroup
	submitOne(t, c, "a", &wg)
	wg.Wait()
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("a lone request waited %v", took)
	}
}

// When several requests were waiting, the writer waits (up to the bound)
// for more, and commits them together.
func TestCommitWaitGathersConcurrentRequests(t *testing.T) {
	st := &gatedStore{gate: make(chan struct{})}
	c := startCommitter(t, st, 500*time.Millisecond)
	var wg sync.WaitGroup
	submitOne(t, c, "first", &wg)
	waitFor(t, func() bool { return len(st.commits()) == 1 })
	for i := range 3 { // queue behind the held commit
		submitOne(t, c, string(rune('a'+i)), &wg)
	}
	time.Sleep(50 * time.Millisecond) // let the three block on the hand-in
	close(st.gate)
	time.Sleep(50 * time.Millisecond) // the writer has drained the three and waits
	for i := range 3 {
		submitOne(t, c, string(rune('x'+i)), &wg)
	}
	wg.Wait()
	if got := st.commits(); len(got) != 2 || got[1] != 6 {
		t.Fatalf("commit sizes %v, want [1 6]: the three later requests should join the waiting group", got)
	}
}

// The wait is bounded: a group that cannot fill is committed after it.
func TestCommitWaitIsBounded(t *testing.T) {
	st := &gatedStore{gate: make(chan struct{})}
	c := startCommitter(t, st, 100*time.Millisecond)
	var wg sync.WaitGroup
	submitOne(t, c, "first", &wg)
	waitFor(t, func() bool { return len(st.commits()) == 1 })
	submitOne(t, c, "a", &wg)
	submitOne(t, c, "b", &wg)
	time.Sleep(20 * time.Millisecond)
	close(st.gate)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a group that could not fill was never committed")
	}
	if got := st.commits(); len(got) != 2 || got[1] != 2 {
		t.Fatalf("commit sizes %v, want [1 2]", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
