package automation

import (
	"fmt"
	"time"

	// Cron time zones must not depend on the zoneinfo of the small boxes
	// Core systems run on: embed the database (~450 KB).
	_ "time/tzdata"
)

// maxMissedCount bounds how far missed runs are counted: a cron job
// every minute down for a year does not need an exact number.
const maxMissedCount = 10000

// schedule is when a repeating job runs: every interval counted from an
// anchor (its last run, so restarts keep the rhythm), or a cron expression.
type schedule struct {
	every  time.Duration
	anchor time.Time
	trig   Trigger
}

func newSchedule(t Trigger, defaultEvery time.Duration, anchor time.Time) (schedule, bool) {
	switch t.Type {
	case TriggerStartup:
		return schedule{}, false
	case TriggerCron:
		return schedule{trig: t}, true
	case TriggerMinutes, TriggerSeconds:
		return schedule{every: t.Every, anchor: anchor, trig: t}, true
	}
	return schedule{every: defaultEvery, anchor: anchor, trig: t}, true
}

// next is the first slot strictly after t.
func (s schedule) next(t time.Time) time.Time {
	if s.trig.Type == TriggerCron {
		return s.trig.sched.Next(t.In(s.trig.loc))
	}
	if t.Before(s.anchor) {
		return s.anchor.Add(s.every)
	}
	k := t.Sub(s.anchor)/s.every + 1
	return s.anchor.Add(k * s.every)
}

// missed counts the slots after last and before now; a slot right at now
// is not missed but due.
func (s schedule) missed(last, now time.Time) int {
	first := s.next(last)
	if !first.Before(now) {
		return 0
	}
	if s.trig.Type != TriggerCron {
		return int(min((now.Sub(first)-1)/s.every+1, maxMissedCount))
	}
	n := 0
	for t := first; t.Before(now) && n < maxMissedCount; t = s.next(t) {
		n++
	}
	return n
}

// firstDue is the first slot at or after t.
func (s schedule) firstDue(t time.Time) time.Time {
	return s.next(t.Add(-time.Nanosecond))
}

// label names a job's trigger in run records, e.g. "intervalMinutes 30",
// "cron 0 * * * * Europe/Berlin".
func (t Trigger) label(defaultEvery time.Duration) string {
	switch t.Type {
	case TriggerStartup:
		return TriggerStartup
	case TriggerMinutes:
		return fmt.Sprintf("%s %v", TriggerMinutes, t.Every.Minutes())
	case TriggerSeconds:
		return fmt.Sprintf("%s %v", TriggerSeconds, t.Every.Seconds())
	case TriggerCron:
		if t.TimeZone != "" {
			return fmt.Sprintf("cron %s %s", t.Cron, t.TimeZone)
		}
		return "cron " + t.Cron
	}
	return "interval " + defaultEvery.String() + " (default)"
}
