package automation

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// maxWait bounds one wait of the watch loop, so that a wall clock that
// jumps (a suspended laptop, an NTP step) is noticed within a minute.
const maxWait = time.Minute

// slot is a repeating job and its next due time.
type slot struct {
	job   *Job
	sched schedule
	label string
	next  time.Time
}

// Run is watch mode: onStartup jobs (and catch-up runs) at once, then
// every job on its trigger, until ctx is cancelled. A trigger that fires
// while its job still runs records a skipped run. On cancellation the
// actions in flight finish, nothing new starts, and Run returns nil once
// every run is reported; it returns an error only if the reports
// directory cannot be made.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.loadState(); err != nil {
		return err
	}
	start := r.clock.Now()
	var first []firing
	var slots []*slot
	for i := range r.cfg.Jobs {
		j := &r.cfg.Jobs[i]
		label := j.Trigger.label(r.opts.DefaultInterval)
		last, seen := r.lastRun(j.Name)
		anchor := start
		if seen {
			anchor = last
		}
		sched, repeats := newSchedule(j.Trigger, r.opts.DefaultInterval, anchor)
		if !repeats {
			first = append(first, firing{job: j, trigger: label, due: start})
			continue
		}
		if seen {
			if f, ok := r.catchUp(j, sched, last, start); ok {
				first = append(first, f)
			}
		}
		slots = append(slots, &slot{job: j, sched: sched, label: label, next: sched.firstDue(start)})
	}
	r.log.Info("watching", "jobs", len(r.cfg.Jobs), "repeating", len(slots))

	var wg sync.WaitGroup
	leads := func() bool { return r.opts.Lead == nil || r.opts.Lead() }
	launch := func(fs []firing) {
		if !leads() {
			r.log.Debug("not the leader: another replica runs the jobs", "jobs", len(fs))
			return
		}
		r.inflight.Add(1)
		wg.Go(func() {
			defer r.inflight.Add(-1)
			_, _ = r.runBatch(ctx, fs)
		})
	}
	if len(first) > 0 && leads() {
		launch(first)
	} else if len(first) > 0 {
		// Startup and catch-up runs go to whichever replica leads first.
		wg.Go(func() {
			for !leads() {
				select {
				case <-ctx.Done():
					return
				case <-r.clock.After(time.Second):
				}
			}
			launch(first)
		})
	}
	for {
		now := r.clock.Now()
		var due []firing
		var next time.Time
		for _, s := range slots {
			if s.next.IsZero() { // a cron date that no longer comes
				continue
			}
			if !s.next.After(now) {
				due = append(due, firing{job: s.job, trigger: s.label, due: s.next})
				// Slots passed while the loop was late collapse into this one run.
				s.next = s.sched.next(now)
			}
			if next.IsZero() || s.next.Before(next) {
				next = s.next
			}
		}
		if len(due) > 0 {
			launch(due)
		}
		wait := maxWait
		if !next.IsZero() {
			wait = min(max(next.Sub(now), 0), maxWait)
		}
		select {
		case <-ctx.Done():
			r.log.Info("stopping: letting the actions in flight finish")
			wg.Wait()
			return nil
		case <-r.clock.After(wait):
		}
	}
}

// catchUp decides about the runs of j missed since last (the runner was
// down): a run now (catchUp once), or a skipped record that says how many
// were missed (catchUp skip).
func (r *Runner) catchUp(j *Job, sched schedule, last, now time.Time) (firing, bool) {
	n := sched.missed(last, now)
	if n == 0 {
		return firing{}, false
	}
	what := fmt.Sprintf("%d run(s) missed since %s", n, last.UTC().Format(time.RFC3339))
	if n >= maxMissedCount {
		what = fmt.Sprintf("%d or more runs missed since %s", n, last.UTC().Format(time.RFC3339))
	}
	r.log.Info("missed runs", "job", j.Name, "missed", n, "catch_up", j.CatchUp)
	if j.CatchUp == CatchUpOnce {
		return firing{job: j, trigger: "catchUp once: " + what, due: now}, true
	}
	return firing{job: j, trigger: "catchUp skip: " + what, due: now,
		skip: what + " while the runner was down; catchUp is skip, so the job waits for its next slot"}, true
}
