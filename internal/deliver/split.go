package deliver

import (
	"sync"
	"time"

	"corebridge/internal/bridge"
)

// How the byte budget recovers after a 413: after growEvery batches in a
// row went through, it grows by a quarter, up to Config.BatchBytes, but
// not to the smallest size refused within forgetRefusal.
const (
	growEvery     = 20
	forgetRefusal = 10 * time.Minute
)

// sizer is the data-byte budget of a batch. The Bucket may refuse a body
// as too large (413) below what --batch-bytes allows: then the batch is
// sent in halves, and later batches get the budget of the half that went
// through instead of being split again. Batches of every module share it,
// as they share the Bucket's body limit.
type sizer struct {
	max int // Config.BatchBytes

	mu        sync.Mutex
	budget    int
	refused   int       // the smallest batch refused (data bytes), 0: none
	refusedAt time.Time // when
	streak    int       // batches through since the last change
}

func newSizer(max int) *sizer { return &sizer{max: max, budget: max} }

// Budget returns the data bytes a batch may hold now.
func (s *sizer) Budget() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.budget
}

// TooLarge records that a batch of size data bytes was refused as too
// large: the next batch of its module, the head of this one, holds at
// most half of it.
func (s *sizer) TooLarge(size int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.budget = max(1, min(s.budget, size/2))
	if s.refused == 0 || size < s.refused || now.Sub(s.refusedAt) >= forgetRefusal {
		s.refused = size
	}
	s.refusedAt, s.streak = now, 0
}

// Through records a batch the Bucket took; the budget grows back slowly.
func (s *sizer) Through(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.budget >= s.max {
		return
	}
	if s.streak++; s.streak < growEvery {
		return
	}
	s.streak = 0
	ceiling := s.max
	if s.refused > 0 && now.Sub(s.refusedAt) < forgetRefusal {
		ceiling = min(ceiling, s.refused-1)
	}
	s.budget = max(s.budget, min(ceiling, s.budget+max(1, s.budget/4)))
}

// dataBytes is what a batch's records weigh against the budget (as
// Store.Lease counts MaxBytes).
func dataBytes(recs []bridge.Record) int {
	n := 0
	for _, r := range recs {
		n += len(r.Data)
	}
	return n
}
