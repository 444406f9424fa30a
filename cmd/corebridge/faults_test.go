package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket/server"

	"corebridge/internal/logtest"

	"github.com/chromedp/chromedp"
)

// The fault drill of issue 14: every fault an operator meets is reported
// truthfully — /core/health degraded (or down) naming it, /readyz where
// ingest refuses, the dashboard's badge in a real Chromium, one WARN line —
// and so is its recovery: health ok, /readyz 200, the badge OK, an INFO
// line, and every accepted record synced.

// faultFlags are serve's timings for the drill: a breaker that opens
// after two failures and probes four times a second, a delivery timeout
// a slow Bucket overruns, pending records stale after 3 s, and no module
// judged silent while the drill runs.
var faultFlags = []string{"--breaker-threshold", "2", "--breaker-cooldown", "250ms", "--delivery-timeout", "1s",
	"--stale-after", "3s", "--silence-min", "1h", "--log-level", "info"}

// faultWait bounds each wait of the drill (the fault to show, the
// recovery); what it waits for takes a few seconds at most.
const faultWait = 20 * time.Second

// faultEnv is what a row's steps act on: one serve and its Bucket.
type faultEnv struct {
	t        *testing.T
	base     string
	bucket   *faultBucket
	accepted int    // records acknowledged, which must all be synced in the end
	dir      string // the data directory's filesystem (a tmpfs for the disk row)
	ballast  string // the file that fills it
}

// post sends one update of module and returns the status; a 200 counts
// the record as accepted.
func (e *faultEnv) post(module string, n int) (int, http.Header) {
	e.t.Helper()
	resp, err := http.Post(e.base+"/core/update", "application/json",
		strings.NewReader(fmt.Sprintf(`{"module":%q,"data":{"n":%d}}`, module, n)))
	if err != nil {
		e.t.Fatalf("post: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		e.accepted++
	}
	return resp.StatusCode, resp.Header
}

// faultRow is one fault: how to cause it, what must show while it lasts,
// how to remove it and what the recovery must log.
type faultRow struct {
	name string
	skip string   // why the row cannot run yet
	args []string // serve flags besides faultFlags (later ones win)
	disk string   // if set, the data directory is on a tmpfs of this size (root only)

	inject func(e *faultEnv)
	status string         // health's status during the fault
	reason *regexp.Regexp // one of health's reasons during the fault
	ready  int            // /readyz during the fault
	badge  *regexp.Regexp // the badge's word or a reason the page lists
	warn   *regexp.Regexp // the one WARN line (as logged, JSON) of the fault

	clear func(e *faultEnv)
	// remains, if set, checks what rightly stays after clear and ends it
	// (dead letters wait for an operator).
	remains func(e *faultEnv, b *browser)
	info    *regexp.Regexp // an INFO line of the recovery
}

var faultRows = []faultRow{
	{
		name: "bucket 404",
		inject: func(e *faultEnv) {
			e.bucket.Set(bucketNotFound)
			e.post("education", 1)
		},
		status: "degraded", reason: regexp.MustCompile(`bucket URL answers as no Bucket does since .*circuit breaker open.*404`), ready: 200,
		badge: regexp.MustCompile(`answers as no Bucket does.*404`),
		warn:  regexp.MustCompile(`"msg":"bucket URL answers as no Bucket does: circuit breaker open".*404`),
		clear: func(e *faultEnv) { e.bucket.Set(bucketOK) },
		info:  regexp.MustCompile(`"msg":"bucket reachable again"`),
	},
	{
		name: "bucket 401",
		inject: func(e *faultEnv) {
			e.bucket.Set(bucketUnauthorized)
			e.post("education", 1)
		},
		status: "degraded", reason: regexp.MustCompile(`bucket refuses our credentials since .*circuit breaker open.*401`), ready: 200,
		badge: regexp.MustCompile(`credentials.*401`),
		warn:  regexp.MustCompile(`"msg":"bucket refuses our credentials: circuit breaker open".*401`),
		clear: func(e *faultEnv) { e.bucket.Set(bucketOK) },
		info:  regexp.MustCompile(`"msg":"bucket reachable again"`),
	},
	{
		name: "bucket unreachable",
		inject: func(e *faultEnv) {
			e.bucket.Close()
			e.post("education", 1)
		},
		status: "degraded", reason: regexp.MustCompile(`bucket unreachable since .*circuit breaker open.*connection refused`), ready: 200,
		badge: regexp.MustCompile(`bucket unreachable since`),
		warn:  regexp.MustCompile(`"msg":"bucket unreachable: circuit breaker open".*connection refused`),
		clear: func(e *faultEnv) { e.bucket.Reopen() },
		info:  regexp.MustCompile(`"msg":"bucket reachable again"`),
	},
	{
		name: "bucket slow",
		inject: func(e *faultEnv) {
			e.bucket.Set(bucketSlow)
			e.post("education", 1)
		},
		status: "degraded", reason: regexp.MustCompile(`bucket unreachable since .*circuit breaker open.*(--delivery-timeout|deadline exceeded|[Tt]imeout)`), ready: 200,
		badge: regexp.MustCompile(`bucket unreachable since`),
		warn:  regexp.MustCompile(`"msg":"bucket unreachable: circuit breaker open".*(--delivery-timeout|deadline exceeded|[Tt]imeout)`),
		clear: func(e *faultEnv) { e.bucket.Set(bucketOK) },
		info:  regexp.MustCompile(`"msg":"bucket reachable again"`),
	},
	{
		// The Bucket holds the first batch (longer than usual, not
		// past the delivery timeout: this row is about the queue, not
		// the Bucket), so records stay pending and the queue fills.
		name: "queue full",
		args: []string{"--max-pending", "3", "--delivery-timeout", "60s"},
		inject: func(e *faultEnv) {
			e.t.Helper()
			e.bucket.Set(bucketHold)
			for i := range 3 {
				if code, _ := e.post("education", i); code != 200 {
					e.t.Fatalf("post %d of 3 into a queue of 3: %d", i+1, code)
				}
			}
			code, h := e.post("education", 3)
			if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
				e.t.Errorf("post into a full queue: %d, Retry-After %q; want 503 with Retry-After", code, h.Get("Retry-After"))
			}
		},
		status: "degraded", reason: regexp.MustCompile(`ingest refuses producers.*queue is full`), ready: 503,
		badge: regexp.MustCompile(`queue is full`),
		warn:  regexp.MustCompile(`"msg":"ingest refusing: queue is full"`),
		clear: func(e *faultEnv) {
			e.t.Helper()
			e.bucket.Set(bucketOK)
			waitFor(e.t, "the held records to sync", faultWait, func() bool {
				return num(getJSON(e.t, e.base+"/core/health"), "pending_queue") == 0
			})
			if code, _ := e.post("education", 4); code != 200 { // the producer comes back
				e.t.Errorf("post after the queue drained: %d", code)
			}
		},
		// Ready again is said when the queue drains, before any producer
		// comes back (a load balancer sends none while /readyz says 503).
		info: regexp.MustCompile(`"msg":"ingest ready again: the queue drained`),
	},
	{
		// The store on a small tmpfs, filled by a ballast file past
		// --min-free-disk: ingest refuses before the disk is full.
		name: "disk guard",
		disk: "64m",
		args: []string{"--min-free-disk", "16MiB"},
		inject: func(e *faultEnv) {
			e.ballast = fillDisk(e.t, e.dir, 8<<20)
			// The guard reads free space every second: until it has,
			// records are still taken (and must be delivered).
			deadline := time.Now().Add(5 * time.Second)
			for {
				code, h := e.post("education", 1)
				if code == http.StatusServiceUnavailable && h.Get("Retry-After") != "" {
					break
				}
				if code != http.StatusOK || time.Now().After(deadline) {
					e.t.Fatalf("post on a nearly full disk: %d, Retry-After %q; want 503 with Retry-After", code, h.Get("Retry-After"))
				}
				time.Sleep(100 * time.Millisecond)
			}
		},
		status: "degraded", reason: regexp.MustCompile(`disk almost full: .* below --min-free-disk 16MiB`), ready: 503,
		badge: regexp.MustCompile(`disk almost full`),
		warn:  regexp.MustCompile(`"msg":"ingest refusing: disk almost full`),
		clear: func(e *faultEnv) {
			if err := os.Remove(e.ballast); err != nil {
				e.t.Fatal(err)
			}
		},
		info: regexp.MustCompile(`"msg":"ingest accepts again: the disk has room`),
	},
	{
		name: "dead letters",
		inject: func(e *faultEnv) {
			e.bucket.Server.SetFaults(server.Faults{RejectModule: "creative"})
			if ids := postBatch(e.t, e.base, "creative", 0, 3); len(ids) == 3 {
				e.accepted += 3
			}
		},
		// Issue 14, point 1: new dead letters make health degraded,
		// naming module and reason.
		status: "degraded", reason: regexp.MustCompile(`(?i)dead.*creative|creative.*dead`), ready: 200,
		badge: regexp.MustCompile(`(?i)dead.letter`),
		warn:  regexp.MustCompile(`"msg":"records dead-lettered".*"module":"creative".*"count":3.*rejected`),
		clear: func(e *faultEnv) { e.bucket.Server.SetFaults(server.Faults{}) },
		// Dead letters stay visible until replayed or purged: the
		// Bucket's recovery does not make the badge green.
		remains: func(e *faultEnv, b *browser) {
			e.t.Helper()
			if h := getJSON(e.t, e.base+"/core/health"); num(h, "dead_count") != 3 {
				e.t.Errorf("after the Bucket recovered: dead_count %v, want the 3 dead letters", h["dead_count"])
			}
			if st, ok := waitBadge(b, faultWait, func(s badgeState) bool {
				return s.Status != "ok" && s.Status != "unknown" && regexp.MustCompile(`(?i)dead.letter`).MatchString(s.text())
			}); !ok {
				e.t.Errorf("badge with 3 dead letters left: %+v, want a warning naming them", st)
			}
			if code, out := postJSON(e.t, e.base+"/api/dead-letters/replay", `{"all":true}`); code != 200 {
				e.t.Fatalf("replay: %d %v", code, out)
			}
		},
		info: regexp.MustCompile(`"msg":"dead letters replayed".*"count":3`),
	},
}

// TestFaultsReportedTruthfully drives each fault through the real
// program against a real Bucket and watches it and its recovery from
// outside, as an operator and a load balancer would.
func TestFaultsReportedTruthfully(t *testing.T) {
	b := newBrowser(t, 1280, 900) // one Chromium for every row
	parent := t
	for _, row := range faultRows {
		t.Run(strings.ReplaceAll(row.name, " ", "_"), func(t *testing.T) {
			if row.skip != "" {
				t.Skip(row.skip)
			}
			b.t = t // failures of the page belong to the row
			defer func() { b.t = parent }()
			runFaultRow(t, b, row)
		})
	}
}

func runFaultRow(t *testing.T, b *browser, row faultRow) {
	fb := startFaultBucket(t)
	dir := t.TempDir()
	if row.disk != "" {
		dir = mountTmpfs(t, row.disk)
	}
	args := append([]string{"--data-dir", filepath.Join(dir, "data"), "--bucket-url", fb.URL}, faultFlags...)
	base, logs, _ := startServeLogs(t, append(args, row.args...)...)
	e := &faultEnv{t: t, base: base, bucket: fb, dir: dir}

	// Before: a record synced, all ok.
	if code, _ := e.post("education", 0); code != 200 {
		t.Fatalf("first post: %d", code)
	}
	waitSynced(e)
	if h, ok := waitHealth(t, base, isOK); !ok {
		t.Fatalf("before the fault: health %s, want ok", brief(h))
	}
	b.open(base)
	if st, ok := waitBadge(b, faultWait, badgeOK); !ok {
		t.Fatalf("before the fault: badge %+v, want OK", st)
	}

	// The fault.
	mark := len(logs.String())
	row.inject(e)
	faulty := func(h map[string]any) bool { return h["status"] == row.status && anyReason(h, row.reason) }
	if h, ok := waitHealth(t, base, faulty); !ok {
		t.Errorf("during the fault: health %s; want %s with a reason matching %s", brief(h), row.status, row.reason)
	} else {
		t.Logf("during the fault: health %s", brief(h))
	}
	if code := readyz(t, base); code != row.ready {
		t.Errorf("during the fault: /readyz %d, want %d", code, row.ready)
	}
	if st, ok := waitBadge(b, faultWait, func(s badgeState) bool {
		return s.Status != "ok" && s.Status != "unknown" && row.badge.MatchString(s.text())
	}); !ok {
		t.Errorf("during the fault: badge %+v; want it not OK, showing %s", st, row.badge)
	}
	warns := waitLogLines(logs, mark, "WARN", row.warn)
	if len(warns) != 1 {
		t.Errorf("during the fault: %d WARN lines matching %s, want 1; WARN lines logged:\n%s",
			len(warns), row.warn, strings.Join(logLines(logs, mark, "WARN", nil), "\n"))
	}

	// The recovery.
	mark2 := len(logs.String())
	row.clear(e)
	if row.remains != nil {
		row.remains(e, b)
	}
	if h, ok := waitHealth(t, base, isOK); !ok {
		t.Errorf("after the fault: health %s, want ok with no reason", brief(h))
	}
	if code := readyz(t, base); code != 200 {
		t.Errorf("after the fault: /readyz %d, want 200", code)
	}
	if st, ok := waitBadge(b, faultWait, badgeOK); !ok {
		t.Errorf("after the fault: badge %+v, want OK", st)
	}
	if infos := waitLogLines(logs, mark2, "INFO", row.info); len(infos) == 0 {
		t.Errorf("after the fault: no INFO line matching %s; INFO lines logged:\n%s",
			row.info, strings.Join(logLines(logs, mark2, "INFO", nil), "\n"))
	}
	waitSynced(e)
	if n := len(logLines(logs, mark, "WARN", row.warn)); n != 1 {
		t.Errorf("over the fault and its recovery: %d WARN lines matching %s, want 1 (rate-limited)", n, row.warn)
	}
	// A Bucket whose /healthz answers while it refuses deliveries (401)
	// must not repeat its good probe at every cooldown.
	if n := len(logLines(logs, mark, "INFO", regexp.MustCompile(`"msg":"bucket answers again`))); n > 1 {
		t.Errorf("over the fault and its recovery: %d \"bucket answers again\" INFO lines, want at most 1", n)
	}
	b.do("leave the page", chromedp.Navigate("about:blank")) // before serve stops under it
}

// waitSynced waits until every accepted record has been confirmed by the Bucket.
func waitSynced(e *faultEnv) {
	e.t.Helper()
	var got int
	deadline := time.Now().Add(faultWait)
	for {
		if got = num(getJSON(e.t, e.base+"/bucket/status"), "total_sync_count"); got == e.accepted {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d of %d accepted records synced after %s", got, e.accepted, faultWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func isOK(h map[string]any) bool {
	r, _ := h["reasons"].([]any)
	return h["status"] == "ok" && len(r) == 0
}

func anyReason(h map[string]any, re *regexp.Regexp) bool {
	r, _ := h["reasons"].([]any)
	for _, x := range r {
		if s, _ := x.(string); re.MatchString(s) {
			return true
		}
	}
	return false
}

// brief shows the parts of a health body the drill judges.
func brief(h map[string]any) string {
	return fmt.Sprintf("status=%v reasons=%q breaker=%v bucket_reachable=%v pending=%v dead_count=%v",
		h["status"], h["reasons"], h["breaker"], h["bucket_reachable"], h["pending_queue"], h["dead_count"])
}

// waitHealth polls /core/health until cond holds; it returns the last
// body and whether cond held before faultWait.
func waitHealth(t *testing.T, base string, cond func(map[string]any) bool) (map[string]any, bool) {
	t.Helper()
	deadline := time.Now().Add(faultWait)
	for {
		h := getJSON(t, base+"/core/health")
		if cond(h) {
			return h, true
		}
		if time.Now().After(deadline) {
			return h, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readyz(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// badgeState is the dashboard's status badge as the page shows it.
type badgeState struct {
	Status  string   `json:"status"` // data-status: ok, warn, degraded, down, unknown
	Word    string   `json:"word"`
	Reasons []string `json:"reasons"`
}

func (s badgeState) text() string { return s.Word + " | " + strings.Join(s.Reasons, " | ") }

func badgeOK(s badgeState) bool { return s.Status == "ok" && s.Word == "OK" && len(s.Reasons) == 0 }

// waitBadge polls the live page's badge until cond holds; it returns the
// last state and whether cond held before d.
func waitBadge(b *browser, d time.Duration, cond func(badgeState) bool) (badgeState, bool) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var s badgeState
		raw := eval[string](b, `JSON.stringify({status: document.getElementById('status').dataset.status,
			word: document.getElementById('status-word').textContent,
			reasons: [...document.querySelectorAll('#status-reasons li')].map(li => li.textContent)})`)
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			b.t.Fatalf("badge state %q: %v", raw, err)
		}
		if cond(s) {
			return s, true
		}
		if time.Now().After(deadline) {
			b.screenshot("badge")
			return s, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logLines returns the JSON log lines logged after offset mark at level
// that match re (every one at level when re is nil).
func logLines(logs *logtest.Buffer, mark int, level string, re *regexp.Regexp) []string {
	var out []string
	for _, line := range strings.Split(logs.String()[mark:], "\n") {
		var l struct {
			Level string `json:"level"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Level != level {
			continue
		}
		if re == nil || re.MatchString(line) {
			out = append(out, line)
		}
	}
	return out
}

// waitLogLines is logLines once at least one line matches, or after a few
// seconds: a log line may follow the change health already shows.
func waitLogLines(logs *logtest.Buffer, mark int, level string, re *regexp.Regexp) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l := logLines(logs, mark, level, re); len(l) > 0 || time.Now().After(deadline) {
			return l
		}
		time.Sleep(50 * time.Millisecond)
	}
}
