package automation

import (
	"context"
	"fmt"
	"time"
)

// Run statuses.
const (
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// RunRecord is one run of one job, as the dashboard lists it.
type RunRecord struct {
	Job        string        `json:"job"`
	Trigger    string        `json:"trigger"` // "onStartup", "intervalMinutes 30", "cron …", "once", "catchUp …"
	Started    time.Time     `json:"started"`
	Duration   time.Duration `json:"-"`
	DurationMs float64       `json:"duration_ms"`
	Status     string        `json:"status"` // ok, failed or skipped
	// FailedAction names the action that failed, e.g. "actions[1] check_health".
	FailedAction string `json:"failed_action,omitempty"`
	// Reason says why the run failed or was skipped.
	Reason string `json:"reason,omitempty"`
	// Report is the run file that holds the run's details ("" without one).
	Report string `json:"report,omitempty"`
}

// JobResult is one line of a run file: the run and every action in it.
type JobResult struct {
	RunRecord
	Actions []ActionResult `json:"actions"`
}

// Report is what one run of the runner did: the jobs that a trigger
// started together, or every job for RunOnce.
type Report struct {
	File     string // path of the run file; "" without a reports directory
	Trigger  string
	Started  time.Time
	Duration time.Duration
	Jobs     []JobResult
}

// Count returns how many jobs ended with status.
func (rep Report) Count(status string) int {
	n := 0
	for _, j := range rep.Jobs {
		if j.Status == status {
			n++
		}
	}
	return n
}

// Failed returns how many jobs failed.
func (rep Report) Failed() int { return rep.Count(StatusFailed) }

// runBatch runs the firings one after the other (as the prototype did:
// the run file's lines follow the config) and writes the run's reports.
func (r *Runner) runBatch(ctx context.Context, fs []firing) (Report, error) {
	if len(fs) == 0 {
		return Report{}, nil
	}
	rep := Report{Started: r.clock.Now().UTC(), Trigger: fs[0].trigger}
	var err error
	var run *runFile
	if r.files != nil {
		if run, err = r.files.create(rep.Started); err != nil {
			r.log.Error("cannot write the run report", "err", err)
		} else {
			rep.File = run.path
		}
	}
	for _, f := range fs {
		res := r.runJob(ctx, f)
		if run != nil {
			res.Report = run.name
			if werr := run.add(res); werr != nil && err == nil {
				err = werr
				r.log.Error("cannot write the run report", "file", run.path, "err", werr)
			}
		}
		r.remember(res.RunRecord)
		rep.Jobs = append(rep.Jobs, res)
	}
	rep.Duration = r.clock.Now().Sub(rep.Started)
	if run != nil {
		if cerr := run.close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if r.files != nil {
		if derr := r.files.summarize(rep); derr != nil && err == nil {
			err = derr
			r.log.Error("cannot append to the daily log", "err", derr)
		}
		r.files.prune(r.clock.Now(), r.log)
		if serr := r.saveState(); serr != nil && err == nil {
			err = serr
		}
	}
	return rep, err
}

// runJob runs one job's actions in order, stopping at the first that fails:
// later actions usually depend on it (send, then check the status).
func (r *Runner) runJob(ctx context.Context, f firing) JobResult {
	j := f.job
	res := JobResult{RunRecord: RunRecord{Job: j.Name, Trigger: f.trigger, Started: r.clock.Now().UTC()}, Actions: []ActionResult{}}
	skip := func(reason string) JobResult {
		res.Status, res.Reason = StatusSkipped, reason
		r.log.Warn("job skipped", "job", j.Name, "trigger", f.trigger, "reason", reason)
		return res
	}
	if f.skip != "" {
		return skip(f.skip)
	}
	if ctx.Err() != nil {
		return skip("the runner was stopping")
	}
	if since, ok := r.claim(j.Name); !ok {
		return skip(fmt.Sprintf("the previous run (started %s) is still running; a job never overlaps itself",
			since.UTC().Format(time.RFC3339)))
	}
	defer r.release(j.Name)
	r.setLastRun(j.Name, f.due)
	r.log.Info("job started", "job", j.Name, "trigger", f.trigger)
	start := r.clock.Now()
	res.Status = StatusOK
	for i, a := range j.Actions {
		if ctx.Err() != nil {
			res.Status = StatusFailed
			res.FailedAction = actionName(i, a)
			res.Reason = "not started: the runner was stopping"
			break
		}
		ar := r.doAction(ctx, i, a)
		res.Actions = append(res.Actions, ar)
		r.log.Info("action", "job", j.Name, "action", actionName(i, a), "status", ar.Status,
			"attempts", len(ar.Attempts), "duration_ms", ar.DurationMs, "error", ar.Error)
		if ar.Status != StatusOK {
			res.Status, res.FailedAction, res.Reason = StatusFailed, actionName(i, a), ar.Error
			break
		}
	}
	res.Duration = r.clock.Now().Sub(start)
	res.DurationMs = ms(res.Duration)
	lv := r.log.Info
	if res.Status != StatusOK {
		lv = r.log.Error
	}
	lv("job finished", "job", j.Name, "status", res.Status, "duration_ms", res.DurationMs,
		"failed_action", res.FailedAction, "reason", res.Reason)
	return res
}

func actionName(i int, a Action) string {
	return fmt.Sprintf("actions[%d] %s", i, a.Type)
}
