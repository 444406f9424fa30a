package insight_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"corebridge/internal/insight"
	"corebridge/internal/logtest"
	"corebridge/internal/store/storetest"
)

// TestCapRefusedLoggedOnce: a flood of refusals past a cap makes health
// degraded naming the cap and logs one WARN; CapQuiet after the last
// refusal health is ok again and one INFO says so (injected clock).
func TestCapRefusedLoggedOnce(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var logs logtest.Buffer
	hub, err := insight.New(insight.Config{Store: storetest.NewMem(), Now: clock, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	for range 1000 {
		hub.CapRefused(insight.CapIngestInflight, "too many ingest requests in flight: --max-inflight-ingest is 5")
	}
	advance(time.Second)
	hub.CapRefused(insight.CapIngestInflight, "too many ingest requests in flight: --max-inflight-ingest is 5")
	h := hub.Health(t.Context())
	if h.Status != "degraded" || !strings.Contains(strings.Join(h.Reasons, ";"), "--max-inflight-ingest is 5: 1001 refused since") {
		t.Fatalf("health while refusing: %s %v", h.Status, h.Reasons)
	}
	advance(insight.CapQuiet - time.Second)
	if h := hub.Health(t.Context()); h.Status != "degraded" {
		t.Fatalf("health %s %v less than CapQuiet after the last refusal, want degraded", h.Status, h.Reasons)
	}
	advance(time.Second)
	if h := hub.Health(t.Context()); h.Status != "ok" {
		t.Fatalf("health CapQuiet after the last refusal: %s %v, want ok", h.Status, h.Reasons)
	}
	hub.Health(t.Context())
	if n := strings.Count(logs.String(), `level=WARN msg="refusing requests past a cap" cap=ingest_inflight`); n != 1 {
		t.Errorf("%d WARN lines, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), `level=INFO msg="no longer refusing past a cap" cap=ingest_inflight refused=1001`); n != 1 {
		t.Errorf("%d INFO lines, want 1:\n%s", n, logs.String())
	}
}
