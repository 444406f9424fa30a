package insight_test

import (
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
)

func TestSilence(t *testing.T) {
	now := T
	c := insight.SilenceConfig{MaxGap: map[string]time.Duration{"finance": 10 * time.Minute}}
	for _, tc := range []struct {
		name   string
		m      bridge.ModuleSummary
		silent bool
		why    string
	}{
		{"never seen", bridge.ModuleSummary{Module: "a"}, false, ""},
		{"regular, within 5× its 30 s", bridge.ModuleSummary{Module: "a", LastSeenAt: now.Add(-149 * time.Second), Interval: 30 * time.Second, Intervals: 10}, false, ""},
		{"regular, past 5× its 30 s", bridge.ModuleSummary{Module: "a", LastSeenAt: now.Add(-151 * time.Second), Interval: 30 * time.Second, Intervals: 10}, true, "usually every 30s"},
		{"too little history to judge", bridge.ModuleSummary{Module: "a", LastSeenAt: now.Add(-time.Hour), Interval: 30 * time.Second, Intervals: 2}, false, ""},
		{"busy producer: the 1 min floor", bridge.ModuleSummary{Module: "a", LastSeenAt: now.Add(-59 * time.Second), Interval: time.Second, Intervals: 1000}, false, ""},
		{"busy producer past the floor", bridge.ModuleSummary{Module: "a", LastSeenAt: now.Add(-61 * time.Second), Interval: time.Second, Intervals: 1000}, true, "silent after 1m0s"},
		{"a burst of a few seconds is no rhythm", bridge.ModuleSummary{Module: "a", LastSeenAt: now.Add(-time.Hour), Interval: time.Second, Intervals: 3}, false, ""},
		{"gaps that cover less than the 1 min floor", bridge.ModuleSummary{Module: "a", LastSeenAt: now.Add(-time.Hour), Interval: 5 * time.Second, Intervals: 11}, false, ""},
		{"a sub-second interval learnt by the old rule", bridge.ModuleSummary{Module: "a", LastSeenAt: now.Add(-time.Hour), Interval: 2 * time.Millisecond, Intervals: 5000}, false, ""},
		{"configured max gap, no history", bridge.ModuleSummary{Module: "finance", LastSeenAt: now.Add(-11 * time.Minute)}, true, "max gap 10m0s"},
		{"configured max gap not reached", bridge.ModuleSummary{Module: "finance", LastSeenAt: now.Add(-9 * time.Minute)}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			silent, why := c.Silent(tc.m, now)
			if silent != tc.silent || !strings.Contains(why, tc.why) {
				t.Errorf("Silent = %v, %q; want %v, containing %q", silent, why, tc.silent, tc.why)
			}
			if silent && !strings.Contains(why, tc.m.Module) {
				t.Errorf("reason %q does not name the module", why)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	var h [bridge.LatencyBuckets]int64
	if q := insight.Quantile(h, 0.5); q != 0 {
		t.Errorf("empty histogram: %v, want 0", q)
	}
	h[bridge.LatencyBucket(140*time.Millisecond)] = 10 // bucket (100, 150]
	h[len(h)-1] = 10                                   // +Inf
	if q := insight.Quantile(h, 0.25); q != 125 {
		t.Errorf("p25 = %v, want 125 (halfway through (100, 150])", q)
	}
	if q := insight.QuantileWithin(h, 0.25, 130, 140); q != 130 {
		t.Errorf("p25 clamped to [130, 140] = %v, want 130", q)
	}
	if q := insight.Quantile(h, 0.99); q != bridge.LatencyBoundsMs[len(bridge.LatencyBoundsMs)-1] {
		t.Errorf("p99 in +Inf = %v, want the highest bound", q)
	}
}

func TestDrainETA(t *testing.T) {
	if e := insight.DrainETA(0, 0); e == nil || *e != 0 {
		t.Errorf("empty queue: %v, want 0", e)
	}
	if e := insight.DrainETA(100, 0); e != nil {
		t.Errorf("no recent syncs: %v, want nil (unknown)", *e)
	}
	if e := insight.DrainETA(100, 4); e == nil || *e != 25 {
		t.Errorf("100 at 4/s: %v, want 25", e)
	}
}

// TestSeries buckets rollups into steps, oldest first, empty steps kept.
func TestSeries(t *testing.T) {
	r := newRig(t)
	r.append(rec("a", 10), rec("b", 70), rec("c", 75))
	r.settle(at(80*time.Second), 3, func(ids []string, s *bridge.Settlement) { s.Synced = ids })
	r.clk.Set(at(90 * time.Second))
	s, err := r.hub.Series(t.Context(), "1h")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Points) != 60 || s.StepS != 60 {
		t.Fatalf("1h series: %d points of %d s, want 60 of 60", len(s.Points), s.StepS)
	}
	last, prev := s.Points[59], s.Points[58]
	if !last.T.Equal(at(time.Minute)) || last.Received != 2 || last.Synced != 3 || prev.Received != 1 || prev.Synced != 0 {
		t.Errorf("last two points %+v %+v", prev, last)
	}
	if last.AvgLatencyMs == nil || *last.AvgLatencyMs != (70000+10000+5000)/3.0 || prev.AvgLatencyMs != nil {
		t.Errorf("latency of the last points: %v, %v", last.AvgLatencyMs, prev.AvgLatencyMs)
	}
	day, err := r.hub.Series(t.Context(), "24h")
	if err != nil {
		t.Fatal(err)
	}
	if len(day.Points) != 1440 || day.StepS != 60 || day.Points[1439].Received != 2 || day.Points[1438].Received != 1 {
		t.Errorf("24h series: %d points of %d s, last %+v", len(day.Points), day.StepS, day.Points[143])
	}
	if _, err := r.hub.Series(t.Context(), "7d"); bridge.ErrorCode(err) != bridge.EINVALID {
		t.Errorf("unknown window: %v", err)
	}
}
