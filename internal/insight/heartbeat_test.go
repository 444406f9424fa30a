package insight_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
	"corebridge/internal/logtest"
	"corebridge/internal/store/storetest"
)

func TestSilentAtCountsHeartbeats(t *testing.T) {
	now := T
	c := insight.SilenceConfig{MaxGap: map[string]time.Duration{"finance": 10 * time.Minute}}
	regular := bridge.ModuleSummary{Module: "a", LastSeenAt: now.Add(-time.Hour), Interval: 30 * time.Second, Intervals: 10}
	for _, tc := range []struct {
		name      string
		m         bridge.ModuleSummary
		heartbeat time.Time
		silent    bool
		why       string
	}{
		{"regular, quiet for an hour, no heartbeat", regular, time.Time{}, true, "no record for 1h0m0s"},
		{"regular, quiet for an hour, heartbeat 1 min ago", regular, now.Add(-time.Minute), false, ""},
		{"regular, heartbeats stopped 3 min ago", regular, now.Add(-3 * time.Minute), true, "no record or heartbeat for 3m0s"},
		{"an older heartbeat than the last record changes nothing", bridge.ModuleSummary{Module: "finance", LastSeenAt: now.Add(-time.Minute)}, now.Add(-time.Hour), false, ""},
		{"heartbeat only, within max gap", bridge.ModuleSummary{Module: "finance"}, now.Add(-9 * time.Minute), false, ""},
		{"heartbeat only, past max gap", bridge.ModuleSummary{Module: "finance"}, now.Add(-11 * time.Minute), true, "no record or heartbeat for 11m0s (max gap 10m0s)"},
		{"heartbeat only, no max gap: no rhythm to judge", bridge.ModuleSummary{Module: "b"}, now.Add(-time.Hour), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			silent, why := c.SilentAt(tc.m, tc.heartbeat, now)
			if silent != tc.silent || !strings.Contains(why, tc.why) {
				t.Errorf("SilentAt = %v, %q; want %v, containing %q", silent, why, tc.silent, tc.why)
			}
		})
	}
}

func TestHubHeartbeats(t *testing.T) {
	h, err := insight.New(insight.Config{Store: storetest.NewMem(), Now: func() time.Time { return T }, MaxHeartbeatModules: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, ok := h.LastHeartbeat("a"); ok {
		t.Fatal("a heartbeat before any was sent")
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			if err := h.Heartbeat(insight.Heartbeat{Module: "a", At: T.Add(time.Duration(i) * time.Second), Status: "ok"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	hb, ok := h.LastHeartbeat("a")
	if !ok || hb.Count != 100 || !hb.At.Equal(T.Add(99*time.Second)) {
		t.Errorf("last heartbeat = %+v: want the latest of 100", hb)
	}
	_ = h.Heartbeat(insight.Heartbeat{Module: "c", At: T})
	_ = h.Heartbeat(insight.Heartbeat{Module: "b", At: T})
	var many *insight.ErrTooManyHeartbeatModules
	if err := h.Heartbeat(insight.Heartbeat{Module: "d", At: T}); !errors.As(err, &many) || many.Max != 3 {
		t.Errorf("a fourth module: %v, want ErrTooManyHeartbeatModules", err)
	}
	var names []string
	for _, hb := range h.Heartbeats() {
		names = append(names, hb.Module)
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("Heartbeats = %v", names)
	}
	var nilHub *insight.Hub
	if err := nilHub.Heartbeat(insight.Heartbeat{Module: "a"}); err != nil || nilHub.Heartbeats() != nil {
		t.Error("a nil hub must take heartbeats and keep none")
	}
}

func BenchmarkHubHeartbeat(b *testing.B) {
	h, err := insight.New(insight.Config{Store: storetest.NewMem()})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	names := make([]string, 1000)
	for i := range names {
		names[i] = "m" + time.Duration(i).String()
	}
	i := 0
	for b.Loop() {
		_ = h.Heartbeat(insight.Heartbeat{Module: names[i%len(names)], At: T, Status: "ok"})
		i++
	}
}

// TestHeartbeatStatusDegradesHealth: a module that says it is down makes
// health degraded, naming it and its message, with one WARN; its next ok
// heartbeat clears it, with one INFO.
func TestHeartbeatStatusDegradesHealth(t *testing.T) {
	logs := &logtest.Buffer{}
	h, err := insight.New(insight.Config{Store: storetest.NewMem(), Now: func() time.Time { return T }, Log: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_ = h.Heartbeat(insight.Heartbeat{Module: "robotics", At: T.Add(-10 * time.Second), Status: insight.HeartbeatOK})
	if v := h.Health(t.Context()); v.Status != "ok" {
		t.Fatalf("health with an ok heartbeat: %s %v", v.Status, v.Reasons)
	}
	_ = h.Heartbeat(insight.Heartbeat{Module: "robotics", At: T.Add(-5 * time.Second), Status: insight.HeartbeatDown, Message: "arm 2 stalled"})
	v := h.Health(t.Context())
	if v.Status != "degraded" || !strings.Contains(strings.Join(v.Reasons, "|"), "module robotics says it is down (heartbeat 5s ago): arm 2 stalled") {
		t.Fatalf("health after a down heartbeat: %s %v", v.Status, v.Reasons)
	}
	_ = h.Heartbeat(insight.Heartbeat{Module: "robotics", At: T.Add(-4 * time.Second), Status: insight.HeartbeatDown, Message: "arm 2 stalled"})
	_ = h.Heartbeat(insight.Heartbeat{Module: "robotics", At: T, Status: insight.HeartbeatOK})
	if v := h.Health(t.Context()); v.Status != "ok" {
		t.Fatalf("health after an ok heartbeat again: %s %v", v.Status, v.Reasons)
	}
	if w, i := logs.Count(t, "WARN", "module says it is down"), logs.Count(t, "INFO", "module says it is ok again"); w != 1 || i != 1 {
		t.Errorf("logged %d WARN and %d INFO, want one each:\n%s", w, i, logs)
	}
}
