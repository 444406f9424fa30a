package insight

import (
	"time"

	"corebridge/internal/bridge"
)

// recentSpan is what "recent" means for the sync rate behind the drain
// estimate: the current minute and the four before it.
const recentSpan = 5 * time.Minute

// Figures are the 24 h figures, computed from rollups. Each word means one
// thing wherever a figure is shown — health, the dashboard, the CLI and the
// metrics' help — and each figure says its window (the same definitions
// in README.md and docs/openapi.yaml):
//   - a delivery attempt is one record sent in a batch; it succeeds
//     (synced), fails and is retried (failed), or dead-letters the record
//     (went dead). SyncSuccessPct = synced ÷ (synced + failed + went dead)
//     × 100, nil when nothing was attempted.
//   - "failed" (health failed_24h) counts only attempts that failed and
//     were retried; "went dead" (dead_24h) counts records dead-lettered,
//     once per death (a replayed record that dies again counts again).
//     failed_attempts_24h is their sum: every attempt that did not sync.
//   - "dead now" (health dead_count, corebridge_module_dead_records) is
//     the number of dead letters at this moment, not a 24 h count.
//   - latency is acceptance → Bucket confirmation of each synced record;
//     the average is exact, the percentiles are estimated from the fixed
//     histogram (bridge.LatencyBoundsMs) by linear interpolation inside
//     the bucket that holds the rank, as Prometheus' histogram_quantile does,
//     then clamped to the smallest and largest latency seen.
//   - ErrorCount (errors, error_count_24h) = failed + went dead + ingest
//     failures (5xx); invalid input (4xx) is counted apart, in Rejected.
//   - The Prometheus counters (corebridge_records_*_total) count since the
//     store was created; the corebridge_delivery_attempts_total counter
//     counts batches, not records, since the process started.
type Figures struct {
	Totals    bridge.Rollup            // the window's sums over every module
	PerModule map[string]bridge.Rollup // the window's sums by module

	SyncSuccessPct *float64
	AvgLatencyMs   float64
	P50LatencyMs   float64
	P95LatencyMs   float64
	P99LatencyMs   float64
	ErrorCount     int64
	// SyncRate is records synced per second over the recent span.
	SyncRate float64
}

// figuresOf adds up a view of the window.
func figuresOf(v view) Figures {
	f := Figures{PerModule: make(map[string]bridge.Rollup, len(v.sums))}
	add := func(r *bridge.Rollup) {
		f.Totals.Add(r)
		m := f.PerModule[r.Module]
		m.Module = r.Module
		m.Add(r)
		f.PerModule[r.Module] = m
	}
	for _, r := range v.sums {
		add(&r)
	}
	recentFrom := bridge.Minute(v.now).Add(-recentSpan + time.Minute)
	var recentSynced int64
	for i := range v.open {
		add(&v.open[i])
		if !v.open[i].Minute.Before(recentFrom) {
			recentSynced += v.open[i].Synced
		}
	}
	for i := range v.recent {
		recentSynced += v.recent[i].Synced
	}
	t := &f.Totals
	t.LatencyMinUs, t.LatencyMaxUs = v.latMinUs, v.latMaxUs
	if attempted := t.Synced + t.Failed + t.Dead; attempted > 0 {
		pct := float64(t.Synced) / float64(attempted) * 100
		f.SyncSuccessPct = &pct
	}
	if t.Synced > 0 {
		f.AvgLatencyMs = float64(t.LatencySumUs) / float64(t.Synced) / 1000
		lo, hi := float64(t.LatencyMinUs)/1000, float64(t.LatencyMaxUs)/1000
		f.P50LatencyMs = QuantileWithin(t.LatencyHist, 0.50, lo, hi)
		f.P95LatencyMs = QuantileWithin(t.LatencyHist, 0.95, lo, hi)
		f.P99LatencyMs = QuantileWithin(t.LatencyHist, 0.99, lo, hi)
	}
	f.ErrorCount = t.Failed + t.Dead + t.IngestErrors
	if elapsed := v.now.Sub(recentFrom).Seconds(); elapsed > 0 {
		f.SyncRate = float64(recentSynced) / elapsed
	}
	return f
}

// Quantile estimates the q-quantile (0 < q < 1) of a latency histogram in
// milliseconds: linear interpolation inside the bucket holding the rank,
// from the bucket's lower bound (0 for the first) to its upper bound; a
// rank in the +Inf bucket answers the highest finite bound.
func Quantile(h [bridge.LatencyBuckets]int64, q float64) float64 {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var below int64
	for i, n := range h {
		if n == 0 || float64(below+n) < rank {
			below += n
			continue
		}
		if i == len(bridge.LatencyBoundsMs) {
			return bridge.LatencyBoundsMs[i-1]
		}
		lo := 0.0
		if i > 0 {
			lo = bridge.LatencyBoundsMs[i-1]
		}
		hi := bridge.LatencyBoundsMs[i]
		return lo + (hi-lo)*(rank-float64(below))/float64(n)
	}
	return bridge.LatencyBoundsMs[len(bridge.LatencyBoundsMs)-1]
}

// QuantileWithin is Quantile clamped to the smallest and largest latency
// seen, lo and hi (ms): with few records a bucket's width would otherwise
// show as latency nobody had.
func QuantileWithin(h [bridge.LatencyBuckets]int64, q, lo, hi float64) float64 {
	return min(max(Quantile(h, q), lo), hi)
}

// DrainETA estimates how long the queue takes to drain at the recent sync
// rate: 0 when empty, nil when nothing was synced recently.
func DrainETA(depth int64, rate float64) *float64 {
	if depth <= 0 {
		z := 0.0
		return &z
	}
	if rate <= 0 {
		return nil
	}
	s := float64(depth) / rate
	return &s
}
