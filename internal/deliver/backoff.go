package deliver

import (
	"time"
)

// Backoff is exponential backoff with full jitter: the wait before attempt
// n+1 is uniform in [0, min(Cap, Base·2^(n-1))). Full jitter spreads
// retries of many records so that a returning Bucket is not hit by all of
// them at once.
type Backoff struct {
	Base time.Duration
	Cap  time.Duration
	Rand func() float64 // uniform in [0,1); injectable for tests
}

// Ceiling returns the upper bound of the wait after the n-th failed
// attempt (n >= 1).
func (b Backoff) Ceiling(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := b.Base
	for i := 1; i < n && d < b.Cap; i++ {
		d *= 2
	}
	return min(d, b.Cap)
}

// Wait returns the jittered wait after the n-th failed attempt; a
// Retry-After from the Bucket is a floor.
func (b Backoff) Wait(n int, retryAfter time.Duration) time.Duration {
	d := time.Duration(b.Rand() * float64(b.Ceiling(n)))
	return max(d, retryAfter)
}
