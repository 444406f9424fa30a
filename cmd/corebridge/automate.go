package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"corebridge/internal/automation"
)

// runAutomate is `corebridge automate`, the prototype's
// `python automation/runner.py --once | --watch [--interval N]`.
func runAutomate(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("automate", "Run the jobs of an automation config against the bridge's API: --once runs\n"+
		"every job once and exits (non-zero if any failed); --watch runs them on their\n"+
		"triggers until SIGINT/SIGTERM. Reports go to --reports-dir: run_<UTC time>.jsonl,\n"+
		"runner.log and daily_log.txt.", e)
	once := fs.Bool("once", false, "run every job once, then exit")
	watch := fs.Bool("watch", false, "run the jobs on their triggers until interrupted")
	configPath := fs.String("config", "automation/config.json", "the jobs to run")
	apiURL := fs.String("api-url", "http://127.0.0.1:8000", "base URL of the bridge's API")
	token := fs.String("token", "", "bearer token for the bridge's API")
	secretFile := signingSecretFlag(fs)
	interval := minutes(automation.DefaultInterval)
	fs.Var(&interval, "interval", "minutes between runs of jobs that set no trigger (or a duration such as 90s)")
	reportsDir := fs.String("reports-dir", "automation/reports", "directory for run reports, runner.log, daily_log.txt and state")
	keep := fs.Int("keep-reports", automation.DefaultKeepReports, "run reports kept (older ones are deleted; -1 keeps all)")
	maxAge := fs.Duration("max-report-age", automation.DefaultMaxReportAge, "run reports older than this are deleted (a negative duration such as -1h keeps all)")
	timeout := fs.Duration("request-timeout", automation.DefaultRequestTimeout, "bound on each HTTP request of an action")
	logFormat := fs.String("log-format", "auto", "log format: auto (text on a terminal, else JSON), text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if *once == *watch {
		return usageError{"automate: give exactly one of --once or --watch"}
	}
	if *keep == 0 || *maxAge == 0 || *timeout <= 0 {
		return usageError{"automate: --keep-reports and --max-report-age must not be 0, --request-timeout must be positive"}
	}
	secret, err := readSigningSecret(*secretFile)
	if err != nil {
		return err
	}
	cfg, err := automation.Load(*configPath)
	if err != nil {
		return usageError{err.Error()}
	}
	log, err := newLogger(e.stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	r := automation.New(cfg, automation.Options{
		APIURL:          *apiURL,
		Token:           *token,
		SigningSecret:   secret,
		ReportsDir:      *reportsDir,
		KeepReports:     *keep,
		MaxReportAge:    *maxAge,
		DefaultInterval: time.Duration(interval),
		RequestTimeout:  *timeout,
		Logger:          log,
	})
	if *watch {
		log.Info("automation watching", "config", *configPath, "api_url", *apiURL, "jobs", len(cfg.Jobs), "reports", *reportsDir)
		nd := newNextDue(cfg, time.Duration(interval), *reportsDir, time.Now())
		nd.printAll(e.stdout, time.Now())
		wctx, stopWatch := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { // after each run, when its job is next due
			defer close(done)
			nd.follow(wctx, r, e.stdout)
		}()
		err := r.Run(ctx)
		stopWatch()
		<-done
		return err
	}
	rep, err := r.RunOnce(ctx)
	printReport(e.stdout, rep)
	if err != nil {
		return err
	}
	if bad := len(rep.Jobs) - rep.Count(automation.StatusOK); bad > 0 {
		return fmt.Errorf("automate: %d of %s did not succeed", bad, plural(len(rep.Jobs), "job", "jobs"))
	}
	return nil
}

// printReport prints one line per job, then where the details are.
func printReport(w io.Writer, rep automation.Report) {
	for _, j := range rep.Jobs {
		switch j.Status {
		case automation.StatusOK:
			fmt.Fprintf(w, "[%s] ok: %s in %.3fs\n", j.Job, plural(len(j.Actions), "action", "actions"), j.Duration.Seconds())
		case automation.StatusFailed:
			fmt.Fprintf(w, "[%s] failed at %s: %s\n", j.Job, j.FailedAction, j.Reason)
		default:
			fmt.Fprintf(w, "[%s] %s: %s\n", j.Job, j.Status, j.Reason)
		}
	}
	if rep.File != "" {
		fmt.Fprintf(w, "report: %s\n", rep.File)
	}
}

// minutes is the --interval flag: a bare number is minutes, as in the
// prototype; a value with a unit is a duration (its variable is
// COREBRIDGE_AUTOMATE_INTERVAL, of this command alone).
type minutes time.Duration

func (m *minutes) String() string {
	d := time.Duration(*m)
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10)
	}
	return d.String()
}

func (m *minutes) Set(s string) error {
	s = strings.TrimSpace(s)
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d = time.Duration(f * float64(time.Minute))
	} else if d, err = time.ParseDuration(s); err != nil {
		return fmt.Errorf("not minutes nor a duration: %q", s)
	}
	if d < time.Second {
		return fmt.Errorf("must be at least a second, not %q", s)
	}
	*m = minutes(d)
	return nil
}

// cronParser reads cron triggers as internal/automation does, for the next
// due times that automate --watch prints.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// nextDue works out when each job of a watch is next due: from its cron
// expression, or from its interval counted from its last run (the
// runner's state.json in --reports-dir) or from the start.
type nextDue struct {
	jobs   []automation.Job
	every  time.Duration // for jobs without a trigger
	anchor map[string]time.Time
}

func newNextDue(cfg *automation.Config, every time.Duration, reportsDir string, start time.Time) *nextDue {
	nd := &nextDue{jobs: cfg.Jobs, every: every, anchor: map[string]time.Time{}}
	var st struct {
		Jobs map[string]struct {
			LastRun time.Time `json:"last_run"`
		} `json:"jobs"`
	}
	if b, err := os.ReadFile(filepath.Join(reportsDir, "state.json")); err == nil {
		_ = json.Unmarshal(b, &st)
	}
	for _, j := range cfg.Jobs {
		nd.anchor[j.Name] = start
		if js, ok := st.Jobs[j.Name]; ok && !js.LastRun.IsZero() {
			nd.anchor[j.Name] = js.LastRun
		}
	}
	return nd
}

// next is when job j is next due after now, or a word when it does not
// repeat.
func (nd *nextDue) next(j automation.Job, now time.Time) string {
	t := j.Trigger
	switch t.Type {
	case automation.TriggerStartup:
		return "at start only"
	case automation.TriggerCron:
		sched, err := cronParser.Parse(t.Cron)
		if err != nil {
			return "(cron " + t.Cron + ")"
		}
		loc := time.Local
		if t.TimeZone != "" {
			if l, err := time.LoadLocation(t.TimeZone); err == nil {
				loc = l
			}
		}
		n := sched.Next(now.In(loc))
		if n.IsZero() {
			return "never again"
		}
		return n.Format("2006-01-02 15:04:05 MST") + " (cron " + t.Cron + ")"
	}
	every := t.Every
	if every <= 0 {
		every = nd.every
	}
	anchor := nd.anchor[j.Name]
	n := anchor.Add(every)
	if now.After(anchor) {
		n = anchor.Add((now.Sub(anchor)/every + 1) * every)
	}
	return n.Local().Format("2006-01-02 15:04:05 MST") + " (every " + every.String() + ")"
}

// printAll prints every job's next due time.
func (nd *nextDue) printAll(w io.Writer, now time.Time) {
	fmt.Fprintf(w, "watching %s; next due:\n", plural(len(nd.jobs), "job", "jobs"))
	for _, j := range nd.jobs {
		fmt.Fprintf(w, "  [%s] %s\n", j.Name, nd.next(j, now))
	}
}

// follow prints, after each run the runner records, when its job is next
// due, until ctx ends.
func (nd *nextDue) follow(ctx context.Context, r *automation.Runner, w io.Writer) {
	seen := map[string]bool{}
	key := func(rec automation.RunRecord) string { return rec.Job + "@" + rec.Started.Format(time.RFC3339Nano) }
	for _, rec := range r.Runs() {
		seen[key(rec)] = true
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		runs := r.Runs() // newest first
		for i := len(runs) - 1; i >= 0; i-- {
			rec := runs[i]
			if seen[key(rec)] {
				continue
			}
			seen[key(rec)] = true
			for _, j := range nd.jobs {
				if j.Name != rec.Job {
					continue
				}
				if j.Trigger.Type != automation.TriggerCron && rec.Status != automation.StatusSkipped {
					nd.anchor[j.Name] = rec.Started
				}
				fmt.Fprintf(w, "[%s] %s; next due %s\n", rec.Job, rec.Status, nd.next(j, time.Now()))
			}
		}
	}
}
