package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"corebridge/client"
)

// Exit codes of corebridge status, like pg_isready's: scripts and
// monitoring checks read the verdict from them.
const (
	exitStatusOK       = 0 // health ok
	exitStatusDegraded = 1 // health degraded
	exitStatusDown     = 2 // health down, or the bridge cannot be reached
	exitStatusUnknown  = 3 // the bridge refused the token (401/403): nothing was checked
)

// statusCodes maps health's status word to the exit code.
var statusCodes = map[string]int{"ok": exitStatusOK, "degraded": exitStatusDegraded, "down": exitStatusDown}

// statusReport is one look at a bridge: its health and modules, or why
// neither could be read.
type statusReport struct {
	url        string
	at         time.Time
	health     *client.HealthDetail // nil when it could not be read
	modules    []client.ModuleStatus
	modulesErr error
	err        error // why health could not be read; "" when it was
	code       int
}

// runStatus is `corebridge status`: a running bridge's health on one
// screen, with an exit code for scripts.
func runStatus(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("status", "One screen on a running bridge: status and why, queue, modules, breaker and\n"+
		"Bucket, last delivery error, replicas, last reconciliation (GET /core/health\n"+
		"and GET /api/modules). Exit code, like pg_isready: 0 ok, 1 degraded, 2 down\n"+
		"or the bridge cannot be reached, 3 the token was refused (nothing checked).", e)
	apiURL := fs.String("api-url", "http://127.0.0.1:8000", "URL of the bridge's API")
	token := fs.String("token", "", "bearer token for the API (a viewer's is enough)")
	watch := fs.Bool("watch", false, "redraw every --interval until interrupted (exit code: the last status)")
	interval := fs.Duration("interval", 2*time.Second, "how often --watch redraws")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the bridge's answer")
	asJSON := fs.Bool("json", false, "print a JSON object: status, health and modules")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if *interval <= 0 {
		return usageError{"status: --interval must be positive"}
	}
	if *timeout <= 0 {
		return usageError{"status: --timeout must be positive"}
	}
	base := strings.TrimRight(*apiURL, "/")
	c := client.New(base, client.WithToken(*token), client.WithMaxConns(2))
	defer c.CloseIdleConnections()
	if !*watch {
		rep := readStatus(ctx, c, base, *timeout)
		if rep.health != nil || *asJSON { // else the error is the one line to say
			if err := printStatus(e.stdout, rep, *asJSON); err != nil {
				return err
			}
		}
		return statusError(rep)
	}
	tty := isTerminal(e.stdout)
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		rep := readStatus(ctx, c, base, *timeout)
		if ctx.Err() != nil {
			return nil // interrupted mid-read: the last screen stands
		}
		var buf bytes.Buffer
		if tty {
			buf.WriteString("\x1b[H\x1b[2J") // home, clear screen
		}
		if err := printStatus(&buf, rep, *asJSON); err != nil {
			return err
		}
		if !tty && !*asJSON {
			buf.WriteString("\n") // a blank line between blocks
		}
		if _, err := e.stdout.Write(buf.Bytes()); err != nil {
			return err
		}
		if rep.code == exitStatusUnknown {
			return statusError(rep) // a refused token does not fix itself
		}
		select {
		case <-ctx.Done():
			return statusError(rep)
		case <-t.C:
		}
	}
}

// statusError is the error run returns for a report: nil when ok, else
// one with the report's exit code.
func statusError(rep statusReport) error {
	switch {
	case rep.err != nil:
		return exitError{code: rep.code, msg: "status: " + rep.err.Error()}
	case rep.code == exitStatusOK:
		return nil
	}
	return exitError{code: rep.code, msg: "status: " + rep.health.Status}
}

// readStatus reads health, then the modules, each within timeout.
func readStatus(ctx context.Context, c *client.Client, base string, timeout time.Duration) statusReport {
	rep := statusReport{url: base, at: time.Now()}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	h, err := c.HealthDetail(hctx)
	cancel()
	if err != nil {
		rep.code, rep.err = classifyStatusErr(base, err, timeout)
		return rep
	}
	rep.health = &h
	code, ok := statusCodes[h.Status]
	if !ok {
		code = exitStatusDown
	}
	rep.code = code
	mctx, cancel := context.WithTimeout(ctx, timeout)
	rep.modules, rep.modulesErr = c.Modules(mctx)
	cancel()
	return rep
}

// classifyStatusErr says why health could not be read, in one line, and
// with which exit code.
func classifyStatusErr(base string, err error, timeout time.Duration) (int, error) {
	var ae *client.APIError
	if errors.As(err, &ae) {
		switch ae.StatusCode {
		case http.StatusUnauthorized:
			return exitStatusUnknown, fmt.Errorf("%s refused the request (401 Unauthorized: %s): give a viewer's token with --token (or COREBRIDGE_TOKEN)",
				base, orNone(ae.Message))
		case http.StatusForbidden:
			return exitStatusUnknown, fmt.Errorf("%s refused the token given with --token (403 Forbidden: %s): reading health needs a viewer's, operator's or admin's token",
				base, orNone(ae.Message))
		}
		return exitStatusDown, fmt.Errorf("%s answered GET /core/health with %d %s: %s",
			base, ae.StatusCode, http.StatusText(ae.StatusCode), orNone(ae.Message))
	}
	if errors.Is(err, client.ErrBadResponse) {
		return exitStatusDown, fmt.Errorf("%s did not answer GET /core/health with a corebridge health (is it a corebridge?): %v", base, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return exitStatusDown, fmt.Errorf("cannot reach %s: no answer within %s (--timeout)", base, timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is named once, in front
	}
	return exitStatusDown, fmt.Errorf("cannot reach %s: %v", base, err)
}

func orNone(s string) string {
	if s == "" {
		return "no message"
	}
	return s
}

// statusJSON is what --json prints.
type statusJSON struct {
	URL          string            `json:"url"`
	Status       string            `json:"status"` // ok, degraded, down; "unknown" when the token was refused
	ExitCode     int               `json:"exit_code"`
	Error        string            `json:"error,omitempty"`
	Health       json.RawMessage   `json:"health"`
	Modules      []json.RawMessage `json:"modules"`
	ModulesError string            `json:"modules_error,omitempty"`
}

func printStatus(w io.Writer, rep statusReport, asJSON bool) error {
	if asJSON {
		out := statusJSON{URL: rep.url, ExitCode: rep.code, Health: json.RawMessage("null")}
		switch {
		case rep.health != nil:
			out.Status, out.Health = rep.health.Status, rep.health.Raw
			out.Modules = []json.RawMessage{}
			for _, m := range rep.modules {
				out.Modules = append(out.Modules, m.Raw)
			}
			if rep.modulesErr != nil {
				out.ModulesError = rep.modulesErr.Error()
			}
		case rep.code == exitStatusUnknown:
			out.Status, out.Error = "unknown", rep.err.Error()
		default:
			out.Status, out.Error = "down", rep.err.Error()
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if rep.health == nil {
		_, err := fmt.Fprintf(w, "corebridge status: %v\n", rep.err)
		return err
	}
	var b bytes.Buffer
	writeStatusText(&b, rep)
	_, err := w.Write(b.Bytes())
	return err
}

// writeStatusText is the screen: the verdict and why first, then the
// figures behind it.
func writeStatusText(w *bytes.Buffer, rep statusReport) {
	h := rep.health
	now := parseTime(h.Now)
	if now.IsZero() {
		now = rep.at
	}
	fmt.Fprintf(w, "%s  %s", strings.ToUpper(h.Status), rep.url)
	var meta []string
	if h.Version != "" {
		meta = append(meta, "version "+h.Version)
	}
	if h.Store != "" {
		meta = append(meta, "store "+h.Store)
	}
	if h.UptimeS > 0 {
		meta = append(meta, "up "+roundDur(time.Duration(h.UptimeS*float64(time.Second))))
	}
	if len(meta) > 0 {
		fmt.Fprintf(w, "  (%s)", strings.Join(meta, ", "))
	}
	fmt.Fprintf(w, "  at %s\n", rep.at.Format("15:04:05"))
	for _, r := range h.Reasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
	w.WriteString("\n")

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	queue := fmt.Sprintf("%d pending", h.QueueDepth)
	if h.QueueDepth > 0 {
		queue += ", oldest " + roundDur(time.Duration(h.OldestPendingAgeS*float64(time.Second))) + " old"
		if h.DrainETAS != nil {
			queue += fmt.Sprintf(", drains in about %s", roundDur(time.Duration(*h.DrainETAS*float64(time.Second))))
		}
	}
	if h.DeadCount > 0 {
		queue += fmt.Sprintf("; %d dead letters (corebridge dlq list)", h.DeadCount)
	}
	fmt.Fprintf(tw, "queue\t%s\n", queue)
	bucket := "not configured"
	if h.BucketURL != "" {
		reach := "reachable"
		if !h.BucketReachable {
			reach = "UNREACHABLE"
		}
		bucket = fmt.Sprintf("%s  %s, breaker %s", h.BucketURL, reach, orDash(h.Breaker))
	}
	fmt.Fprintf(tw, "bucket\t%s\n", bucket)
	last := "never"
	if t := parseTime(h.LastSyncTS); !t.IsZero() {
		last = h.LastSyncTS + " (" + ago(now, t) + ")"
	}
	fmt.Fprintf(tw, "last sync\t%s\n", last)
	if h.LastDeliveryErr != "" {
		fmt.Fprintf(tw, "last error\t%s\n", h.LastDeliveryErr)
	}
	if r := h.Replicas; r != nil {
		lead := "none leads"
		switch {
		case r.Leading:
			lead = "this replica leads"
		case r.Leader != "":
			lead = "leader " + r.Leader
		}
		if r.LeaderSince != "" && r.Leader != "" {
			lead += " since " + r.LeaderSince
		}
		fmt.Fprintf(tw, "replicas\tthis is %s; %s\n", orDash(r.Instance), lead)
	}
	if rc := h.Reconciliation; rc != nil {
		line := fmt.Sprintf("%s: %d missing, %d unexpected, %d mismatched, %d requeued",
			rc.ReconciledAt, rc.Missing, rc.Unexpected, rc.Mismatched, rc.Requeued)
		if rc.Unsupported {
			line = rc.ReconciledAt + ": the Bucket does not support reconciliation"
		}
		if rc.Error != "" {
			line += " (error: " + rc.Error + ")"
		}
		fmt.Fprintf(tw, "reconciled\t%s\n", line)
	}
	tw.Flush()
	w.WriteString("\n")

	switch {
	case rep.modulesErr != nil:
		fmt.Fprintf(w, "modules: cannot be read: %v\n", rep.modulesErr)
	case len(rep.modules) == 0:
		w.WriteString("modules: none has sent yet\n")
	default:
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MODULE\tRECEIVED\tSYNCED\tPENDING\tDEAD\tLAST SEEN")
		for _, m := range rep.modules {
			seen := "-"
			if t := parseTime(m.LastSeenAt); !t.IsZero() {
				seen = ago(now, t)
			}
			if m.Silent {
				seen += " (silent)"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", m.Module, m.Received, m.Synced, m.Pending, m.Dead, seen)
		}
		tw.Flush()
	}
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// ago says how long before now t was, at a precision a person reads.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < time.Second {
		return "just now"
	}
	return roundDur(d) + " ago"
}

func roundDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour)+30*time.Minute)/time.Hour)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
