package insight

import (
	"context"
	"fmt"
	"sync"
	"time"

	"corebridge/internal/bridge"
)

// Span is the length of the figures' window: the current minute and the
// 1,439 before it.
const Span = 24 * time.Hour

// settleDelay is how long after a minute ends its rollups are taken as
// final: a commit that started in the minute may land a little after it.
const settleDelay = 5 * time.Second

// window keeps the last 24 h of rollups. Minutes that are over (settled)
// are read from the store once and kept; the minute or two still open are
// read on every call. A call therefore reads a few rows, whatever the
// volume, and the store keeps the truth across restarts.
type window struct {
	store bridge.Store

	mu       sync.Mutex
	settled  []bridge.Rollup // minutes before loadedTo, oldest first
	loadedTo time.Time       // zero until the first load
}

// rollups returns the rollups of the 24 h window ending at now (minutes
// from Minute(now)-1439 min to Minute(now)), oldest first, plus extra
// counts not yet in the store.
func (w *window) rollups(ctx context.Context, now time.Time, extra []bridge.Rollup) ([]bridge.Rollup, error) {
	first := bridge.Minute(now).Add(-Span + time.Minute)
	settledTo := bridge.Minute(now.Add(-settleDelay))

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.loadedTo.Before(first) || w.loadedTo.After(settledTo) {
		// First call, a long pause, or a clock that went back: start over.
		w.settled, w.loadedTo = nil, first
	}
	if w.loadedTo.Before(settledTo) {
		rs, err := w.store.Rollups(ctx, bridge.RollupQuery{From: w.loadedTo, To: settledTo})
		if err != nil {
			return nil, fmt.Errorf("read rollups: %w", err)
		}
		w.settled = append(w.settled, rs...)
		w.loadedTo = settledTo
	}
	drop := 0
	for drop < len(w.settled) && w.settled[drop].Minute.Before(first) {
		drop++
	}
	w.settled = w.settled[drop:]

	open, err := w.store.Rollups(ctx, bridge.RollupQuery{From: settledTo, To: now.Add(time.Minute)})
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	out := make([]bridge.Rollup, 0, len(w.settled)+len(open)+len(extra))
	out = append(out, w.settled...)
	for _, r := range open {
		if !r.Minute.After(bridge.Minute(now)) { // a clock ahead of ours wrote the future
			out = append(out, r)
		}
	}
	for _, r := range extra {
		if !r.Minute.Before(first) {
			out = append(out, r)
		}
	}
	return out, nil
}
