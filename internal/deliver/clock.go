package deliver

import "time"

// passed reports whether d has passed since since, at now. A negative
// elapsed time means the wall clock went back (an injected clock, or a
// time stripped of its monotonic reading): the interval counts as passed,
// so that a step back of an hour does not hold a probe or a log line back
// for an hour. With time.Now's readings on both sides, Sub is monotonic
// and steps do not show at all.
func passed(since, now time.Time, d time.Duration) bool {
	el := now.Sub(since)
	return el < 0 || el >= d
}
