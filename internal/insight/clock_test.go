package insight_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
	"corebridge/internal/logtest"
	"corebridge/internal/store/sqlite"
)

// TestHealthSaysTheClockWentBack: after the wall clock steps back an hour,
// the oldest pending record and the last sync lie in the future. Health
// says so (degraded, with the reasons) instead of an age of 0 and "ok",
// logs it once at WARN, and at INFO once the clock has caught up.
func TestHealthSaysTheClockWentBack(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	recs := []bridge.NewRecord{
		{ID: "r1", Module: "m", SessionID: "s", Data: json.RawMessage(`{"i":1}`), ReceivedAt: T},
		{ID: "r2", Module: "m", SessionID: "s", Data: json.RawMessage(`{"i":2}`), ReceivedAt: T},
	}
	if _, err := st.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	l, err := st.Lease(ctx, bridge.LeaseParams{Owner: "t", Now: T, TTL: time.Minute, MaxRecords: 1})
	if err != nil || l == nil {
		t.Fatalf("lease: %v, %v", l, err)
	}
	if err := st.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: "m", Now: T, Synced: []string{"r1"}}); err != nil {
		t.Fatal(err)
	}

	clk := &clock{t: T.Add(time.Second)}
	logs := &logtest.Buffer{}
	hub, err := insight.New(insight.Config{Store: st, Now: clk.Now, Log: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	const warn, info = "health: the wall clock went back behind the store's times", "health: the wall clock has caught up with the store's times"

	if h := hub.Health(ctx); h.Status != "ok" {
		t.Fatalf("before the step: %s %v, want ok", h.Status, h.Reasons)
	}

	clk.Set(T.Add(-59 * time.Minute)) // the wall clock steps back
	var h insight.Health
	for range 3 {
		h = hub.Health(ctx)
	}
	want := []string{
		"the clock went back: oldest pending record is 59m0s in the future",
		"the clock went back: last sync is 59m0s in the future",
	}
	if h.Status != "degraded" {
		t.Errorf("after the step back: status %s, want degraded", h.Status)
	}
	for _, w := range want {
		if !slices.Contains(h.Reasons, w) {
			t.Errorf("after the step back: reasons %q, want %q among them", h.Reasons, w)
		}
	}
	if n := logs.Count(t, "WARN", warn); n != 1 {
		t.Errorf("%d WARN lines %q after three health reads, want 1", n, warn)
	}

	clk.Set(T.Add(5 * time.Second)) // caught up
	h = hub.Health(ctx)
	for _, r := range h.Reasons {
		if strings.Contains(r, "clock went back") {
			t.Errorf("after the clock caught up: reason %q", r)
		}
	}
	if h.Status != "ok" {
		t.Errorf("after the clock caught up: %s %v, want ok", h.Status, h.Reasons)
	}
	if n := logs.Count(t, "INFO", info); n != 1 {
		t.Errorf("%d INFO lines %q, want 1", n, info)
	}
}
