package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/store/storetest"
)

// memGated is a real (in-memory) store whose first Append waits for gate
// and which records the size of every Append.
type memGated struct {
	*storetest.Mem
	gatedStore
}

func (m *memGated) Append(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	m.gatedStore.Append(ctx, recs)
	return m.Mem.Append(ctx, recs)
}

// A reused key with another payload refuses its own request only: the
// requests committed in the same group are stored without it, and the
// refusal names the record's index within its own request.
func TestConflictRefusesOnlyItsRequest(t *testing.T) {
	st := &memGated{Mem: storetest.NewMem(), gatedStore: gatedStore{gate: make(chan struct{})}}
	w := startCommitter(t, st, 0)
	at := bridge.Truncate(time.Now())
	keyed := func(id, data string) bridge.NewRecord {
		return bridge.NewRecord{ID: id, Module: "m", SessionID: "s", Data: json.RawMessage(data), ReceivedAt: at, DedupeKey: "k"}
	}
	plain := func(id string) bridge.NewRecord {
		return bridge.NewRecord{ID: id, Module: "m", SessionID: "s-" + id, Data: json.RawMessage(`{}`), ReceivedAt: at}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := w.Submit(context.Background(), []bridge.NewRecord{keyed("orig", `{"v":1}`)}); err != nil {
			t.Error(err)
		}
	})
	waitFor(t, func() bool { return len(st.commits()) == 1 })
	var conflictErr error
	wg.Go(func() { // queues behind the held commit
		_, conflictErr = w.Submit(context.Background(), []bridge.NewRecord{plain("x1"), keyed("other", `{"v":2}`)})
	})
	wg.Go(func() {
		if _, err := w.Submit(context.Background(), []bridge.NewRecord{plain("y1"), plain("y2")}); err != nil {
			t.Error(err)
		}
	})
	time.Sleep(50 * time.Millisecond) // let both block on the hand-in
	close(st.gate)
	wg.Wait()

	var kc *bridge.KeyConflict
	if !errors.As(conflictErr, &kc) || kc.Index != 1 || kc.OriginalID != "orig" || kc.Field != "data" {
		t.Fatalf("conflicting request: %v, want a KeyConflict at its index 1 naming orig", conflictErr)
	}
	for _, id := range []string{"y1", "y2"} {
		if _, err := st.Get(context.Background(), id); err != nil {
			t.Errorf("%s, of the request beside the conflict: %v", id, err)
		}
	}
	for _, id := range []string{"x1", "other"} {
		if _, err := st.Get(context.Background(), id); bridge.ErrorCode(err) != bridge.ENOTFOUND {
			t.Errorf("%s, of the refused request: %v, want not stored", id, err)
		}
	}
	if got := st.commits(); len(got) != 3 || got[1] != 4 || got[2] != 2 {
		t.Errorf("Append sizes %v, want [1 4 2]: the group of both, then the group without the refused request", got)
	}
}
