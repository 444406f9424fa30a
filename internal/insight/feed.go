package insight

import (
	"sync"
	"sync/atomic"
)

// Feed fans events out to subscribers, each with its own bounded buffer.
// Publish never blocks: a subscriber whose buffer is full loses the event
// and is told how many it lost (Subscription.TakeLost).
type Feed struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
	n    atomic.Int32  // len(subs), read without the lock on the hot path
	lost atomic.Uint64 // events dropped for slow subscribers, ever
}

// Subscription is one subscriber's view of a Feed.
type Subscription struct {
	c      chan Event
	lost   atomic.Uint64
	feed   *Feed
	closed sync.Once
}

// NewFeed returns an empty feed.
func NewFeed() *Feed { return &Feed{subs: make(map[*Subscription]struct{})} }

// DefaultBuffer is the per-subscriber buffer when Subscribe is given 0.
const DefaultBuffer = 1024

// Subscribe adds a subscriber with a buffer of n events (DefaultBuffer if
// n <= 0). Call Unsubscribe when done.
func (f *Feed) Subscribe(n int) *Subscription {
	if n <= 0 {
		n = DefaultBuffer
	}
	s := &Subscription{c: make(chan Event, n), feed: f}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.n.Store(int32(len(f.subs)))
	f.mu.Unlock()
	return s
}

// Publish hands evs to every subscriber that has room.
func (f *Feed) Publish(evs ...Event) {
	if f == nil || f.n.Load() == 0 {
		return
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	for s := range f.subs {
		for _, e := range evs {
			select {
			case s.c <- e:
			default:
				s.lost.Add(1)
				f.lost.Add(1)
			}
		}
	}
}

// Lost returns how many events subscribers have missed in all.
func (f *Feed) Lost() uint64 { return f.lost.Load() }

// Subscribers returns how many subscribers the feed has.
func (f *Feed) Subscribers() int { return int(f.n.Load()) }

// C is the channel events arrive on. It is closed by Unsubscribe.
func (s *Subscription) C() <-chan Event { return s.c }

// TakeLost returns how many events were dropped for this subscriber since
// the last call, and resets the count.
func (s *Subscription) TakeLost() uint64 { return s.lost.Swap(0) }

// Unsubscribe removes the subscriber and closes its channel. It is safe to
// call more than once.
func (s *Subscription) Unsubscribe() {
	s.closed.Do(func() {
		f := s.feed
		f.mu.Lock()
		delete(f.subs, s)
		f.n.Store(int32(len(f.subs)))
		close(s.c) // under the lock: Publish holds RLock while sending
		f.mu.Unlock()
	})
}
