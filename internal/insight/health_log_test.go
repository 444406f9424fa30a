package insight_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
	"corebridge/internal/logtest"
	"corebridge/internal/store/storetest"
)

// fullStore is a store whose writes fail while full is set.
type fullStore struct {
	*storetest.Mem
	full atomic.Bool
}

var errFull = &bridge.Error{Code: bridge.EUNAVAILABLE, Message: "storage is full", Err: errors.New("database or disk is full")}

func (s *fullStore) Ping(ctx context.Context) error {
	if s.full.Load() {
		return errFull
	}
	return s.Mem.Ping(ctx)
}

func (s *fullStore) AddRollups(ctx context.Context, set []bridge.Rollup) error {
	if s.full.Load() {
		return errFull
	}
	return s.Mem.AddRollups(ctx, set)
}

// While the disk is full, health names the fault at every look, but the
// log says it once (WARN), not at every test write, and once (INFO) when
// the store takes writes again; so does the hub's flush of counts, which
// would otherwise warn every second.
func TestFullStoreIsLoggedOnce(t *testing.T) {
	st := &fullStore{Mem: storetest.NewMem()}
	var logs logtest.Buffer
	hub, err := insight.New(insight.Config{Store: st, PingEvery: time.Nanosecond, FlushEvery: time.Millisecond,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	st.full.Store(true)
	for range 5 {
		hub.Ingest("update", "m", 422, 1) // something to flush
		h := hub.Health(t.Context())
		if h.Status != "down" || !strings.Contains(strings.Join(h.Reasons, ";"), "storage is full") {
			t.Fatalf("health on a full store: %s %v, want down naming it", h.Status, h.Reasons)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), `level=WARN msg="health: store is not writable"`); n != 1 {
		t.Errorf("%d WARN lines for the failing test writes, want 1\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), `level=WARN msg="insight: write counts"`); n != 1 {
		t.Errorf("%d WARN lines for the failing flushes, want 1", n)
	}
	st.full.Store(false)
	if h := hub.Health(t.Context()); h.Status != "ok" {
		t.Errorf("health once the store has room: %s %v", h.Status, h.Reasons)
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	<-done
	if n := strings.Count(logs.String(), `msg="health: the store takes writes again"`); n != 1 {
		t.Errorf("%d INFO lines for the recovery, want 1", n)
	}
	if n := strings.Count(logs.String(), `msg="insight: counts written again"`); n != 1 {
		t.Errorf("%d INFO lines for the flushes' recovery, want 1", n)
	}
}
