package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"corebridge/client"
)

// Exit codes of corebridge reconcile (besides 0: the Bucket holds what
// was delivered, and 2: usage).
const (
	exitReconcileFaults      = 1 // missing, unexpected or mismatched records, or the run failed
	exitReconcileUnsupported = 3 // the Bucket does not have the reconciliation extension
)

// exitError is an error with its own exit code; its message is the
// verdict, already printed in full on stdout.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// ExitCode is the process's exit code for the error.
func (e exitError) ExitCode() int { return e.code }

// runReconcile is `corebridge reconcile`: compare what a running bridge
// delivered with what its Bucket holds, through the bridge's API.
func runReconcile(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("reconcile", "Compare what a running bridge delivered with what its Bucket holds (range-based\n"+
		"reconciliation: a handful of requests to the Bucket for a million records).\n"+
		"Prints, per module, the records synced here, held there, missing there,\n"+
		"unexpected there, mismatched (other content), in flight, and the requests\n"+
		"it took. Exit 0: the Bucket holds what was delivered; 1: it does not (or\n"+
		"the run failed); 2: usage; 3: the Bucket does not support reconciliation.", e)
	apiURL := fs.String("api-url", "http://127.0.0.1:8000", "URL of the bridge's API")
	token := fs.String("token", "", "bearer token for the API (viewer; operator with --repair)")
	var modules moduleList
	fs.Var(&modules, "module", "only this module (comma-separated or repeated); default: every module")
	since := fs.String("since", "", "only records accepted since this time (RFC 3339, e.g. 2026-12-01T00:00:00Z) or this long ago (e.g. 24h)")
	repair := fs.Bool("repair", false, "requeue the records the Bucket does not hold (they keep their ids; needs an operator token)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	opts := client.ReconcileOptions{Modules: modules, Repair: *repair}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return usageError{"reconcile: --since " + err.Error()}
		}
		opts.Since = t
	}
	c := client.New(*apiURL, client.WithToken(*token))
	bar := newProgressBar(e.stderr, isTerminal(e.stderr))
	rep, err := c.Reconcile(ctx, opts, bar.update)
	bar.done()
	if err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusBadRequest {
			return usageError{"reconcile: " + ae.Message}
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReconcile(e.stdout, rep)
	}
	return reconcileVerdict(e.stdout, rep, !*asJSON)
}

// parseSince reads --since: an RFC 3339 time, or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-12-01T00:00:00Z) nor a duration (24h)", s)
}

// printReconcile prints the per-module table and the first ids of each
// kind of difference.
func printReconcile(w io.Writer, rep client.ReconcileReport) {
	if rep.Unsupported {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MODULE\tSYNCED HERE\tHELD THERE\tMISSING\tUNEXPECTED\tMISMATCHED\tIN FLIGHT\tDEAD HERE\tROUND TRIPS\t")
	for _, m := range rep.Modules {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", m.Module, m.SyncedHere, m.HeldThere, m.Missing, m.Unexpected,
			m.Mismatched, m.InFlight, m.DeadHeld, m.RoundTrips)
	}
	t := rep.Totals
	if len(rep.Modules) != 1 {
		fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", t.SyncedHere, t.HeldThere, t.Missing, t.Unexpected,
			t.Mismatched, t.InFlight, t.DeadHeld, t.RoundTrips)
	}
	tw.Flush()
	for _, m := range rep.Modules {
		for _, k := range []struct {
			what string
			n    int64
			ids  []string
		}{{"missing (synced here, not held by the Bucket)", m.Missing, m.MissingIDs},
			{"unexpected (held by the Bucket, unknown here)", m.Unexpected, m.UnexpectedIDs},
			{"mismatched (held by the Bucket with other content)", m.Mismatched, m.MismatchedIDs}} {
			if k.n == 0 {
				continue
			}
			shown := k.ids[:min(len(k.ids), 10)]
			more := ""
			if k.n > int64(len(shown)) {
				more = fmt.Sprintf(" … (%d more; --json lists up to 100)", k.n-int64(len(shown)))
			}
			fmt.Fprintf(w, "%s: %s: %s%s\n", m.Module, k.what, strings.Join(shown, ", "), more)
		}
		if m.Requeued > 0 {
			fmt.Fprintf(w, "%s: requeued %d missing records (they keep their ids)\n", m.Module, m.Requeued)
		}
	}
}

// reconcileVerdict prints the verdict line (when say) and returns the
// exit status as an error: nil when the Bucket holds what was delivered.
func reconcileVerdict(w io.Writer, rep client.ReconcileReport, say bool) error {
	t := rep.Totals
	var verdict string
	code := 0
	switch {
	case rep.Unsupported:
		verdict, code = "UNSUPPORTED: "+rep.Message+"; nothing was compared", exitReconcileUnsupported
	case rep.Error != "":
		verdict, code = "FAILED: "+rep.Error, exitReconcileFaults
	case t.Missing+t.Unexpected+t.Mismatched > 0:
		verdict = fmt.Sprintf("NOT OK: the Bucket does not hold what was delivered: %d missing, %d unexpected, %d mismatched",
			t.Missing, t.Unexpected, t.Mismatched)
		switch {
		case t.Requeued > 0:
			verdict += fmt.Sprintf("; %d missing records requeued for delivery", t.Requeued)
		case t.Missing > 0 && !rep.Repair:
			verdict += "; corebridge reconcile --repair requeues the missing ones"
		}
		code = exitReconcileFaults
	default:
		verdict = fmt.Sprintf("OK: the Bucket holds every record delivered (%d records in %d modules, %d round trips",
			t.SyncedHere, len(rep.Modules), t.RoundTrips)
		if t.InFlight > 0 {
			verdict += fmt.Sprintf("; %d in flight", t.InFlight)
		}
		verdict += ")"
	}
	if say {
		fmt.Fprintln(w, verdict)
	}
	if code == 0 {
		return nil
	}
	return exitError{code: code, msg: "reconcile: " + verdict}
}

// progressBar shows POST /api/reconcile's progress on stderr: a bar
// redrawn in place on a terminal, one line per module otherwise.
type progressBar struct {
	w    io.Writer
	tty  bool
	drew bool
}

func newProgressBar(w io.Writer, tty bool) *progressBar { return &progressBar{w: w, tty: tty} }

func (b *progressBar) update(p client.ReconcileProgress) {
	if !b.tty {
		if p.Done {
			fmt.Fprintf(b.w, "reconcile: module %d/%d %s: %d records checked, %d round trips, %d missing, %d unexpected, %d mismatched\n",
				p.ModuleIndex, p.Modules, p.Module, p.Checked, p.RoundTrips, p.Missing, p.Unexpected, p.Mismatched)
		}
		return
	}
	frac := 1.0
	if p.Total > 0 {
		frac = float64(p.Checked) / float64(p.Total)
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%%  module %d/%d %-20.20s  %d round trips  %d differ\x1b[K",
		strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, p.ModuleIndex, p.Modules, p.Module,
		p.RoundTrips, p.Missing+p.Unexpected+p.Mismatched)
	b.drew = true
}

func (b *progressBar) done() {
	if b.tty && b.drew {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
}
