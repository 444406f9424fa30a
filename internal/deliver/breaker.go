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
// consecutive transient failures (of every worker's deliveries together)
// it opens; while open no delivery is sent (so records do not burn
// attempts on a Bucket that is down) and, every Cooldown, a cheap probe
// (GET /healthz) asks whether the Bucket is back. A good probe half-opens
// it: the next delivery is the trial; success closes it, failure opens it
// again.
//
// Closed, it still checks before it charges records for a Bucket that
// may be gone: at start (a restart must not let records burn Threshold
// more attempts) and after every transient failure, no delivery is sent
// until one probe (CheckDue, Checked) says the Bucket answers; a probe
// that gets no answer opens the breaker at once.
type Breaker struct {
	Threshold int
	Cooldown  time.Duration

	mu        sync.Mutex
	state     BreakerState
	failures  int
	openedAt  time.Time
	lastProbe time.Time
	trial     bool // a trial delivery is in flight (half-open)
	unchecked bool // closed, but a probe must answer before the next delivery
	checking  bool // that probe is in flight
}

// CheckFirst makes the breaker probe the Bucket before its first delivery
// (New does so: a process starts knowing nothing of the Bucket).
func (b *Breaker) CheckFirst() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerClosed {
		b.unchecked = true
	}
}

// Allow reports whether a delivery may be sent now. In half-open it admits
// exactly one trial at a time.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return !b.unchecked
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

// CheckDue reports whether a closed breaker must probe the Bucket before
// the next delivery, and if so marks the probe as taken: one caller
// probes, the others wait for its Checked.
func (b *Breaker) CheckDue() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != BreakerClosed || !b.unchecked || b.checking {
		return false
	}
	b.checking = true
	return true
}

// Checked applies the outcome of the probe CheckDue asked for: answered,
// deliveries go on; not, the breaker opens without charging any record.
func (b *Breaker) Checked(answered bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checking = false
	if b.state != BreakerClosed {
		return
	}
	b.unchecked = !answered
	if !answered {
		b.state, b.openedAt, b.lastProbe, b.trial, b.unchecked = BreakerOpen, now, now, false, false
		b.failures = max(b.failures, b.Threshold)
	}
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
	b.state, b.failures, b.trial, b.unchecked = BreakerClosed, 0, false, false
}

// Failure records a transient failure (network, timeout, 5xx, 408, 429).
func (b *Breaker) Failure(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.state == BreakerHalfOpen || b.state == BreakerClosed && b.failures >= b.Threshold {
		b.state, b.openedAt, b.lastProbe, b.trial, b.unchecked = BreakerOpen, now, now, false, false
		return
	}
	if b.state == BreakerClosed {
		b.unchecked = true // ask the Bucket before charging records again
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
	b.state, b.lastProbe, b.trial, b.unchecked = BreakerOpen, now, false, false
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
