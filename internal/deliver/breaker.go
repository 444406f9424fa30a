package deliver

import (
	"sync"
	"time"
)

// BreakerState is the circuit breaker's position.
type BreakerState int

const (
	BreakerClosed   BreakerState = iota // calls go through
	BreakerOpen                         // calls are held back until a probe succeeds
	BreakerHalfOpen                     // a probe succeeded: one trial delivery decides
)

func (s BreakerState) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

// Breaker stops calling a Bucket that fails every call. After Threshold
// consecutive transient failures it opens; while open no delivery is sent
// (so records do not burn attempts on a Bucket that is down) and, every
// Cooldown, a cheap probe (GET /healthz) asks whether the Bucket is back.
// A good probe half-opens it: the next delivery is the trial; success
// closes it, failure opens it again.
type Breaker struct {
	Threshold int
	Cooldown  time.Duration

	mu        sync.Mutex
	state     BreakerState
	failures  int
	openedAt  time.Time
	lastProbe time.Time
	trial     bool // a trial delivery is in flight (half-open)
}

// Allow reports whether a delivery may be sent now. In half-open it admits
// exactly one trial at a time.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return true
	case BreakerHalfOpen:
		if b.trial {
			return false
		}
		b.trial = true
		return true
	}
	return false
}

// ProbeDue reports whether an open breaker should probe now, and if so
// marks the probe as taken.
func (b *Breaker) ProbeDue(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != BreakerOpen || !passed(b.lastProbe, now, b.Cooldown) {
		return false
	}
	b.lastProbe = now
	return true
}

// ProbeResult applies a probe's outcome.
func (b *Breaker) ProbeResult(ok bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && ok {
		b.state, b.trial = BreakerHalfOpen, false
	}
}

// Success records a delivery the Bucket answered (whatever it said of the
// records): the Bucket is up.
func (b *Breaker) Success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state, b.failures, b.trial = BreakerClosed, 0, false
}

// Failure records a transient failure (network, timeout, 5xx, 408, 429).
func (b *Breaker) Failure(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.state == BreakerHalfOpen || b.state == BreakerClosed && b.failures >= b.Threshold {
		b.state, b.openedAt, b.lastProbe, b.trial = BreakerOpen, now, now, false
	}
}

// Trip opens the breaker at once, whatever its state: the Bucket answers
// but refuses the bridge (401/403), so no delivery should be sent until a
// probe and a trial delivery say otherwise. Records burn no attempts
// while it is open.
func (b *Breaker) Trip(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerClosed {
		b.openedAt = now // a refused trial keeps the outage's start
	}
	b.state, b.lastProbe, b.trial = BreakerOpen, now, false
	b.failures = max(b.failures, b.Threshold)
}

// Release ends a trial that was admitted but not sent (nothing to deliver).
func (b *Breaker) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
}

// State returns the current state and, when open, since when.
func (b *Breaker) State() (BreakerState, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, b.openedAt
}
