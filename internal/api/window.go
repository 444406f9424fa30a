package api

import (
	"sync"
	"time"
)

// window counts events over the last 24 hours in per-minute slots, so
// reading the sum costs the same at any volume.
type window struct {
	mu    sync.Mutex
	slots [24 * 60]struct {
		minute int64
		n      int64
	}
}

func (w *window) add(now time.Time, n int64) {
	m := now.Unix() / 60
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.slots[m%int64(len(w.slots))]
	if s.minute != m {
		s.minute, s.n = m, 0
	}
	s.n += n
}

// sum returns the count over the 24 hours up to now.
func (w *window) sum(now time.Time) int64 {
	m := now.Unix() / 60
	w.mu.Lock()
	defer w.mu.Unlock()
	var total int64
	for _, s := range w.slots {
		if s.minute > m-int64(len(w.slots)) && s.minute <= m {
			total += s.n
		}
	}
	return total
}
