package ingest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// deferredStore commits at once and holds each Sync until released,
// counting what each sync covered.
type deferredStore struct {
	bridge.Store // only AppendDeferred and Sync are called
	mu           sync.Mutex
	committed    int   // records committed, not yet covered by a sync
	covered      []int // records each finished sync covered
	syncing      chan struct{}
	release      chan error
}

func (d *deferredStore) AppendDeferred(_ context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	d.mu.Lock()
	d.committed += len(recs)
	d.mu.Unlock()
	out := make([]bridge.Appended, len(recs))
	for i, r := range recs {
		out[i] = bridge.Appended{ID: r.ID}
	}
	return out, nil
}

func (d *deferredStore) Sync(context.Context) error {
	d.mu.Lock()
	n := d.committed
	d.committed = 0
	d.mu.Unlock()
	d.syncing <- struct{}{}
	err := <-d.release
	d.mu.Lock()
	d.covered = append(d.covered, n)
	d.mu.Unlock()
	return err
}

// TestAnsweredOnlyAfterSync: with a store that commits and syncs apart,
// a request is answered only once a sync that began after its commit has
// returned; the batch committed during a sync waits for the next one, and
// a failed sync answers its requests with the error, not success.
func TestAnsweredOnlyAfterSync(t *testing.T) {
	st := &deferredStore{syncing: make(chan struct{}), release: make(chan error)}
	w := startCommitter(t, st, 0)
	answered := make(chan error, 10)
	submit := func(id string) {
		go func() {
			_, err := w.Submit(context.Background(), []bridge.NewRecord{{ID: id}})
			answered <- err
		}()
	}
	notAnswered := func(what string) {
		t.Helper()
		select {
		case err := <-answered:
			t.Fatalf("%s: a request was answered (%v) before its sync returned", what, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	submit("a")
	<-st.syncing // a's sync runs
	notAnswered("during a's sync")
	submit("b") // committed while a's sync runs
	submit("c")
	notAnswered("during a's sync, b and c queued")
	st.release <- nil
	if err := <-answered; err != nil {
		t.Fatalf("a: %v", err)
	}
	<-st.syncing // b and c's sync (one, or b's then c's)
	notAnswered("during b's sync")
	st.release <- errors.New("disk gone")
	for got := 0; got < 2; {
		select {
		case err := <-answered:
			if err == nil {
				t.Fatal("a request was answered success although its sync failed")
			}
			got++
		case <-st.syncing:
			st.release <- errors.New("disk gone")
		}
	}
}
