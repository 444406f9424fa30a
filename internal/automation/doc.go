// Package automation is the scheduled-jobs runner that replaces the
// prototype's n8n-style automation/runner.py: it reads the prototype's
// automation/config.json unchanged, runs each job's actions against the
// bridge's HTTP API (through the public client package, as any producer
// would), and writes the prototype's reports.
//
// The API, for whoever wires the runner into a process (`corebridge
// automate` does; `serve --automation` will):
//
//	cfg, err := automation.Load("automation/config.json") // *Config; errors name job, field path and problem
//	r := automation.New(cfg, automation.Options{
//		APIURL:     "http://127.0.0.1:8000", // the bridge the actions talk to
//		Token:      "",                      // bearer token for that API
//		ReportsDir: "automation/reports",    // "" writes no files (history is still kept)
//		Logger:     log,                     // *slog.Logger; nil discards
//	})
//	err = r.Run(ctx)           // watch mode: fire triggers until ctx is cancelled; returns nil then
//	rep, err := r.RunOnce(ctx) // every job once, in config order; rep.Failed() > 0 if any job failed
//	recs := r.Runs()           // []RunRecord, newest first: job, trigger, started, duration,
//	                           // status ok|failed|skipped, failed action and why
//
// Runs is safe to call from any goroutine while Run or RunOnce are going
// (a dashboard polls it); RunRecord marshals to JSON with snake_case keys
// and the duration in milliseconds. A Runner never runs a job twice at the
// same time: a trigger that fires while the job still runs, or a RunOnce
// that meets a running job, records a skipped run with the reason.
// Cancelling Run's context lets the action in flight finish (its HTTP
// request is not cut), starts nothing new, and returns once reports are
// written.
//
// Everything time-related goes through Options.Clock and Options.Jitter so
// that tests of triggers, catch-up and the 1 s, 2 s, 4 s retry schedule do
// not sleep.
package automation
