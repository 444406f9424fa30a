package insight_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
	"corebridge/internal/store/sqlite"
)

// burstClock is the test's wall clock.
type burstClock struct{ t time.Time }

func (c *burstClock) Now() time.Time { return c.t }

// TestSilenceNotLearntFromBurst replays issue 14's point 8 on a real
// SQLite store: a 2.5 s load test (thousands of records from four modules)
// and then a minute of quiet must not make any module silent, while a
// module that sent once a second and then stopped is silent after
// factor × its interval (or the floor, whichever is longer).
func TestSilenceNotLearntFromBurst(t *testing.T) {
	for _, tc := range []struct {
		name      string
		silence   insight.SilenceConfig
		silentBy  time.Duration // steady module: silent after this long
		quietFor  time.Duration // burst modules: still not silent after this
		notBefore time.Duration // steady module: not silent yet
	}{
		{"defaults", insight.SilenceConfig{}, 61 * time.Second, 10 * time.Minute, 59 * time.Second},
		// A floor under factor × 1 s (a 2.5 s burst has at most three
		// one-second gaps, 3 s, under this floor too).
		{"floor of 4 s", insight.SilenceConfig{Min: 4 * time.Second}, 5*time.Second + 500*time.Millisecond, 10 * time.Minute, 4*time.Second + 500*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := sqlite.Open(filepath.Join(t.TempDir(), "bridge.db"), sqlite.Options{Synchronous: "NORMAL"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
			clk := &burstClock{t: start}
			hub, err := insight.New(insight.Config{Store: st, Now: clk.Now, Silence: tc.silence, PingEvery: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { hub.Close() })
			ctx := t.Context()
			add := func(module string, n int, at time.Time) {
				recs := make([]bridge.NewRecord, n)
				for i := range recs {
					id := fmt.Sprintf("%s-%d-%d", module, at.UnixNano(), i)
					recs[i] = bridge.NewRecord{ID: id, Module: module, SessionID: id, Data: []byte(`{}`), ReceivedAt: bridge.Truncate(at)}
				}
				if _, err := st.Append(ctx, recs); err != nil {
					t.Fatal(err)
				}
			}
			// A steady producer: one record a second for two minutes.
			for i := 0; i <= 120; i++ {
				add("steady", 1, start.Add(time.Duration(i)*time.Second))
			}
			// Then a load test: 2.5 s, a commit of 4 records every 2 ms for
			// each of four modules (5,000 records).
			burst := start.Add(120*time.Second + 300*time.Millisecond)
			mods := []string{"creative", "education", "finance", "robotics"}
			for i := 0; i < 1250; i++ {
				add(mods[i%4], 4, burst.Add(time.Duration(i)*2*time.Millisecond))
			}
			end := burst.Add(2500 * time.Millisecond)
			lastSteady := start.Add(120 * time.Second)

			silent := func(at time.Time) []string {
				clk.t = at
				h := hub.Health(ctx)
				for _, m := range h.SilentModules {
					found := false
					for _, r := range h.Reasons {
						found = found || strings.Contains(r, "module "+m+" silent")
					}
					if !found || h.Status != "degraded" {
						t.Errorf("module %s silent but status %q, reasons %q", m, h.Status, h.Reasons)
					}
				}
				return h.SilentModules
			}
			if got := silent(lastSteady.Add(tc.notBefore)); slices.Contains(got, "steady") {
				t.Errorf("%s after its last record, silent modules = %v; the steady module should not be silent yet", tc.notBefore, got)
			}
			if got := silent(lastSteady.Add(tc.silentBy)); !slices.Contains(got, "steady") {
				t.Errorf("%s after its last record, silent modules = %v; want the steady module (1/s, then stopped)", tc.silentBy, got)
			}
			for _, after := range []time.Duration{time.Minute + 5*time.Second, tc.quietFor} {
				got := silent(end.Add(after))
				for _, m := range mods {
					if slices.Contains(got, m) {
						t.Errorf("%s after a 2.5 s burst, silent modules = %v; %s only ever sent in the burst", after, got, m)
					}
				}
			}
		})
	}
}
