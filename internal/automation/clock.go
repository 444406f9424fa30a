package automation

import (
	"context"
	"time"
)

// Clock is the runner's time: what time it is, and a channel that fires
// after a while. Tests give a fake one and move it by hand, so triggers,
// catch-up and retry backoff are tested without sleeping.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// sleep waits d on clock, or until ctx is done; it says whether the whole
// wait passed.
func sleep(ctx context.Context, clock Clock, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-clock.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}
