package bridge

import (
	"encoding/json"
	"time"
)

// LatencyBoundsMs are the upper bounds, in milliseconds, of the fixed
// latency histogram kept per minute and module; a last bucket (+Inf) takes
// the rest. Fixed, so that minutes, modules and restarts add up; each
// bound at most 1.5-2.5 times the one before, so that a percentile read
// inside a bucket is never far off (and it is clamped to the minimum and
// maximum seen, which are kept too).
var LatencyBoundsMs = [...]float64{1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
	1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000}

// LatencyBuckets is the number of histogram buckets (the bounds plus +Inf).
const LatencyBuckets = len(LatencyBoundsMs) + 1

// LatencyBucket returns the index of the histogram bucket d falls in.
func LatencyBucket(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	for i, b := range LatencyBoundsMs {
		if ms <= b {
			return i
		}
	}
	return len(LatencyBoundsMs)
}

// Rollup is what happened to one module during one minute. Stores keep
// rollups in the same transactions that change records (received,
// duplicates, synced, failed, dead, replayed, latency), so the 24 h figures
// read at most 1,440 rows per module and survive restarts; what a store
// cannot see (rejected input, ingest failures) is added with AddRollups.
//
// A delivery attempt is one record sent in a batch: the records a Settle
// names as synced, retried or dead are each one attempt.
type Rollup struct {
	Minute       time.Time `json:"minute"` // start of the minute, UTC
	Module       string    `json:"module"`
	Received     int64     `json:"received"`      // new records stored
	Duplicates   int64     `json:"duplicates"`    // updates absorbed as duplicates
	Rejected     int64     `json:"rejected"`      // updates refused as invalid input (4xx)
	IngestErrors int64     `json:"ingest_errors"` // updates the bridge failed to take (5xx)
	Synced       int64     `json:"synced"`        // delivery attempts the Bucket confirmed
	Failed       int64     `json:"failed"`        // delivery attempts to be retried
	Dead         int64     `json:"dead"`          // delivery attempts that dead-lettered the record
	Replayed     int64     `json:"replayed"`      // dead letters made pending again
	LatencySumUs int64     `json:"latency_sum_us"`
	// LatencyMinUs and LatencyMaxUs bound the latencies of the synced
	// records (both 0 when none synced).
	LatencyMinUs int64 `json:"latency_min_us"`
	LatencyMaxUs int64 `json:"latency_max_us"`
	// LatencyHist counts synced records by acceptance→confirmation
	// latency, in the buckets of LatencyBoundsMs.
	LatencyHist [LatencyBuckets]int64 `json:"latency_hist"`
}

// Minute returns the start of t's minute in UTC.
func Minute(t time.Time) time.Time { return t.UTC().Truncate(time.Minute) }

// ObserveLatency counts one synced record's latency (Synced included).
func (r *Rollup) ObserveLatency(d time.Duration) {
	us := d.Microseconds()
	if r.Synced == 0 || us < r.LatencyMinUs {
		r.LatencyMinUs = us
	}
	r.LatencyMaxUs = max(r.LatencyMaxUs, us)
	r.Synced++
	r.LatencySumUs += us
	r.LatencyHist[LatencyBucket(d)]++
}

// WidenLatency widens r's latency bounds to cover o's (r.Synced says
// whether r has bounds yet; it is not changed).
func (r *Rollup) WidenLatency(o *Rollup) {
	switch {
	case o.Synced == 0:
	case r.Synced == 0:
		r.LatencyMinUs, r.LatencyMaxUs = o.LatencyMinUs, o.LatencyMaxUs
	default:
		r.LatencyMinUs, r.LatencyMaxUs = min(r.LatencyMinUs, o.LatencyMinUs), max(r.LatencyMaxUs, o.LatencyMaxUs)
	}
}

// Add adds o's counts to r (not its Minute or Module); the latency bounds
// widen to cover both.
func (r *Rollup) Add(o *Rollup) {
	r.WidenLatency(o)
	r.Received += o.Received
	r.Duplicates += o.Duplicates
	r.Rejected += o.Rejected
	r.IngestErrors += o.IngestErrors
	r.Synced += o.Synced
	r.Failed += o.Failed
	r.Dead += o.Dead
	r.Replayed += o.Replayed
	r.LatencySumUs += o.LatencySumUs
	for i := range r.LatencyHist {
		r.LatencyHist[i] += o.LatencyHist[i]
	}
}

// Sub takes o's counts away from r (not its Minute or Module). The
// latency bounds cannot be taken away and are left as they are.
func (r *Rollup) Sub(o *Rollup) {
	r.Received -= o.Received
	r.Duplicates -= o.Duplicates
	r.Rejected -= o.Rejected
	r.IngestErrors -= o.IngestErrors
	r.Synced -= o.Synced
	r.Failed -= o.Failed
	r.Dead -= o.Dead
	r.Replayed -= o.Replayed
	r.LatencySumUs -= o.LatencySumUs
	for i := range r.LatencyHist {
		r.LatencyHist[i] -= o.LatencyHist[i]
	}
}

// IsZero reports whether r counts nothing.
func (r *Rollup) IsZero() bool {
	z := Rollup{Minute: r.Minute, Module: r.Module}
	return *r == z
}

// RollupKey names a rollup row: its minute (unix minutes) and module.
type RollupKey struct {
	Minute int64
	Module string
}

// RollupSet gathers counts by minute and module, as stores and the
// insight hub collect them before writing.
type RollupSet map[RollupKey]*Rollup

// At returns the rollup of t's minute and module, adding it if missing.
func (rs RollupSet) At(t time.Time, module string) *Rollup {
	m := Minute(t)
	k := RollupKey{m.Unix() / 60, module}
	r := rs[k]
	if r == nil {
		r = &Rollup{Minute: m, Module: module}
		rs[k] = r
	}
	return r
}

// List returns the set's rollups (in no order).
func (rs RollupSet) List() []Rollup {
	out := make([]Rollup, 0, len(rs))
	for _, r := range rs {
		out = append(out, *r)
	}
	return out
}

// RollupQuery selects the rollups of minutes in [From, To).
type RollupQuery struct {
	From, To time.Time
}

// Edit is a change of a dead record's data before its replay, kept with the
// record's history.
type Edit struct {
	At      time.Time       `json:"at"`
	OldData json.RawMessage `json:"old_data"`
	NewData json.RawMessage `json:"new_data"`
	Note    string          `json:"note,omitempty"`
	Author  string          `json:"author,omitempty"` // who made the edit
}

// EditParams changes a dead record's data.
type EditParams struct {
	ID     string
	Data   json.RawMessage // compact JSON object
	Note   string
	Author string // the principal's name, kept with the edit
	Now    time.Time
}
