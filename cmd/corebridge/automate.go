package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

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
		return r.Run(ctx)
	}
	rep, err := r.RunOnce(ctx)
	printReport(e.stdout, rep)
	if err != nil {
		return err
	}
	if bad := len(rep.Jobs) - rep.Count(automation.StatusOK); bad > 0 {
		return fmt.Errorf("automate: %d of %d jobs did not succeed", bad, len(rep.Jobs))
	}
	return nil
}

// printReport prints one line per job, then where the details are.
func printReport(w io.Writer, rep automation.Report) {
	for _, j := range rep.Jobs {
		switch j.Status {
		case automation.StatusOK:
			fmt.Fprintf(w, "[%s] ok: %d actions in %.3fs\n", j.Job, len(j.Actions), j.Duration.Seconds())
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
// prototype; a value with a unit is a duration. Accepting both lets one
// COREBRIDGE_INTERVAL (which `mock` reads as a duration) serve both commands.
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
