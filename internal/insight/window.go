package insight

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"corebridge/internal/bridge"
)

// Span is the length of the figures' window: the current minute and the
// 1,439 before it.
const Span = 24 * time.Hour

// settleDelay is how long after a minute ends its rollups are taken as
// final: a commit that started in the minute may land a little after it.
// Counts that land later still (the hub's own, flushed after a failed
// write) are added to the sums by late.
const settleDelay = 30 * time.Second

// window keeps the last 24 h of rollups. Minutes that are over (settled)
// are read from the store once, kept, and summed as they come and go; the
// minute or two still open are read on every call. A call therefore reads
// a few rows and adds a few sums, whatever the volume, and the store keeps
// the truth across restarts.
type window struct {
	store bridge.Reader

	mu       sync.Mutex
	settled  []bridge.Rollup           // minutes before loadedTo, oldest first
	sums     map[string]*bridge.Rollup // settled, summed by module
	loadedTo time.Time                 // zero until the first load
}

// view is the window at one instant.
type view struct {
	now    time.Time
	sums   map[string]bridge.Rollup // settled minutes, by module
	recent []bridge.Rollup          // settled minutes of the recent span
	open   []bridge.Rollup          // open minutes and counts not in the store yet
	all    []bridge.Rollup          // every minute, oldest first (only when asked)
	// latMinUs, latMaxUs bound the latencies synced in the window (sums
	// cannot carry them: a minute that leaves cannot be subtracted).
	latMinUs, latMaxUs int64
}

// read returns the window ending at now (minutes from Minute(now)-1439 min
// to Minute(now)), plus extra counts not yet in the store. With all, the
// view lists every minute, for charts.
func (w *window) read(ctx context.Context, now time.Time, extra []bridge.Rollup, all bool) (view, error) {
	first := bridge.Minute(now).Add(-Span + time.Minute)
	settledTo := bridge.Minute(now.Add(-settleDelay))

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sums == nil || w.loadedTo.Before(first) || w.loadedTo.After(settledTo) {
		// First call, a long pause, or a clock that went back: start over.
		w.settled, w.sums, w.loadedTo = nil, map[string]*bridge.Rollup{}, first
	}
	if w.loadedTo.Before(settledTo) {
		rs, err := w.store.Rollups(ctx, bridge.RollupQuery{From: w.loadedTo, To: settledTo})
		if err != nil {
			return view{}, fmt.Errorf("read rollups: %w", err)
		}
		for i := range rs {
			w.sum(rs[i].Module).Add(&rs[i])
		}
		w.settled = append(w.settled, rs...)
		w.loadedTo = settledTo
	}
	drop := 0
	for drop < len(w.settled) && w.settled[drop].Minute.Before(first) {
		w.sum(w.settled[drop].Module).Sub(&w.settled[drop])
		drop++
	}
	w.settled = w.settled[drop:]

	open, err := w.store.Rollups(ctx, bridge.RollupQuery{From: settledTo, To: now.Add(time.Minute)})
	if err != nil {
		return view{}, fmt.Errorf("read rollups: %w", err)
	}
	v := view{now: now, sums: make(map[string]bridge.Rollup, len(w.sums))}
	for m, r := range w.sums {
		v.sums[m] = *r
	}
	recentFrom := bridge.Minute(now).Add(-recentSpan + time.Minute)
	for i := len(w.settled) - 1; i >= 0 && !w.settled[i].Minute.Before(recentFrom); i-- {
		v.recent = append(v.recent, w.settled[i])
	}
	for _, r := range open {
		if !r.Minute.After(bridge.Minute(now)) { // a clock ahead of ours wrote the future
			v.open = append(v.open, r)
		}
	}
	for _, r := range extra {
		if !r.Minute.Before(first) {
			v.open = append(v.open, r)
		}
	}
	// Only the bounds and whether any record synced are kept here: a
	// full Add per minute would cost health ten times as much.
	var b bridge.Rollup
	for _, rs := range [][]bridge.Rollup{w.settled, v.open} {
		for i := range rs {
			b.WidenLatency(&rs[i])
			b.Synced += rs[i].Synced
		}
	}
	v.latMinUs, v.latMaxUs = b.LatencyMinUs, b.LatencyMaxUs
	if all {
		v.all = make([]bridge.Rollup, 0, len(w.settled)+len(v.open))
		v.all = append(append(v.all, w.settled...), v.open...)
	}
	return v, nil
}

// add writes counts to the store and, for rows whose minute the window
// has already read as settled (counts flushed late, after a failed
// write), adds them to the sums too. The window stays locked throughout,
// so a minute is never both read with the rows and given them again.
func (w *window) add(ctx context.Context, rs []bridge.Rollup) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.store.AddRollups(ctx, rs); err != nil {
		return err
	}
	if w.sums == nil {
		return nil
	}
	first := time.Time{}
	if len(w.settled) > 0 {
		first = w.settled[0].Minute
	}
	for _, r := range rs {
		if !r.Minute.Before(w.loadedTo) || r.Minute.Before(first) {
			continue // still open (read per call), or already out of the window
		}
		w.sum(r.Module).Add(&r)
		i := sort.Search(len(w.settled), func(i int) bool { return w.settled[i].Minute.After(r.Minute) })
		w.settled = slices.Insert(w.settled, i, r)
	}
	return nil
}

func (w *window) sum(module string) *bridge.Rollup {
	r := w.sums[module]
	if r == nil {
		r = &bridge.Rollup{Module: module}
		w.sums[module] = r
	}
	return r
}
