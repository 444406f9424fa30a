package insight

import (
	"time"

	"corebridge/internal/bridge"
)

// Point is one step of a chart: what happened in [T, T+step).
type Point struct {
	T            time.Time `json:"t"`
	Received     int64     `json:"received"`
	Synced       int64     `json:"synced"`
	Failed       int64     `json:"failed"`
	Dead         int64     `json:"dead"`
	AvgLatencyMs *float64  `json:"avg_latency_ms"` // nil when nothing synced in the step
	P95LatencyMs *float64  `json:"p95_latency_ms"`
}

// Series is a chart's data: points oldest first, empty steps included.
type Series struct {
	Window string  `json:"window"`
	StepS  int     `json:"step_s"`
	Points []Point `json:"points"`
}

// Windows are the series the dashboard draws: the last hour and the last
// 24 h, both by minute (1,440 points for the day: the rollups' own grain).
var Windows = map[string]struct{ Span, Step time.Duration }{
	"1h":  {time.Hour, time.Minute},
	"24h": {Span, time.Minute},
}

// seriesOf buckets the window's rollups into steps of step, the last step
// holding now's minute.
func seriesOf(name string, rs []bridge.Rollup, now time.Time, span, step time.Duration) Series {
	n := int(span / step)
	last := now.UTC().Truncate(step)
	first := last.Add(-time.Duration(n-1) * step)
	s := Series{Window: name, StepS: int(step / time.Second), Points: make([]Point, n)}
	steps := make([]bridge.Rollup, n) // every module's rollups of the step, added up
	for i := range rs {
		if k := int(rs[i].Minute.Sub(first) / step); k >= 0 && k < n {
			steps[k].Add(&rs[i])
		}
	}
	for i, r := range steps {
		p := &s.Points[i]
		p.T = first.Add(time.Duration(i) * step)
		p.Received, p.Synced, p.Failed, p.Dead = r.Received, r.Synced, r.Failed, r.Dead
		if r.Synced > 0 {
			avg := float64(r.LatencySumUs) / float64(r.Synced) / 1000
			p95 := QuantileWithin(r.LatencyHist, 0.95, float64(r.LatencyMinUs)/1000, float64(r.LatencyMaxUs)/1000)
			p.AvgLatencyMs, p.P95LatencyMs = &avg, &p95
		}
	}
	return s
}
