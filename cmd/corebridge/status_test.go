package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket/server"

	"github.com/chromedp/chromedp"
)

// statusRun is one run of `corebridge status` through run().
type statusRun struct {
	stdout, stderr string
	err            error
	code           int
}

func runStatusCmd(t *testing.T, args ...string) statusRun {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, append([]string{"corebridge", "status"}, args...), func(string) string { return "" },
		strings.NewReader(""), &out, &errb)
	r := statusRun{stdout: out.String(), stderr: errb.String(), err: err}
	if err != nil {
		r.code = exitCode(err)
	}
	return r
}

// waitStatus runs status until it exits with code, and returns that run.
func waitStatus(t *testing.T, code int, args ...string) statusRun {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := runStatusCmd(t, args...)
		if r.code == code {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("corebridge status did not exit %d within 20 s; the last run: exit %d, %v\n%s", code, r.code, r.err, r.stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStatusEndToEnd: `corebridge status` against a real serve and a real
// Bucket says ok (exit 0), degraded once the Bucket is stopped (exit 1,
// naming it), and down once the bridge is gone (exit 2, cannot reach).
func TestStatusEndToEnd(t *testing.T) {
	bdir := t.TempDir()
	b, err := server.Start(context.Background(), server.Config{DataDir: bdir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", b.URL,
		"--breaker-threshold", "2", "--breaker-cooldown", "250ms", "--delivery-timeout", "1s")
	postRoundRobin(t, base, []string{"education", "finance"}, 4)
	waitFor(t, "the records to be synced", 20*time.Second, func() bool {
		return num(getJSON(t, base+"/core/health"), "synced_total") == 4
	})

	// ok
	r := waitStatus(t, 0, "--api-url", base)
	t.Logf("ok:\n%s", r.stdout)
	if r.err != nil {
		t.Fatalf("status on a healthy bridge: %v\n%s", r.err, r.stdout)
	}
	for _, want := range []string{"OK  " + base, "queue", "0 pending", b.URL + "  reachable, breaker closed",
		"MODULE", "LAST SEEN", "education  2", "finance    2"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("ok screen lacks %q:\n%s", want, r.stdout)
		}
	}

	// --json: health and modules
	r = runStatusCmd(t, "--api-url", base, "--json")
	var doc struct {
		Status   string           `json:"status"`
		ExitCode int              `json:"exit_code"`
		Health   map[string]any   `json:"health"`
		Modules  []map[string]any `json:"modules"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("--json printed no JSON object: %v\n%s", err, r.stdout)
	}
	if doc.Status != "ok" || doc.ExitCode != 0 || doc.Health["status"] != "ok" || doc.Health["queue_depth"] == nil ||
		len(doc.Modules) != 2 || doc.Modules[0]["module"] != "education" || doc.Modules[0]["received"] != 2.0 {
		t.Errorf("--json: %s", r.stdout)
	}

	// degraded: the Bucket stopped
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, out := postJSON(t, base+"/core/update", `{"module":"education","data":{"after":"the bucket stopped"}}`); code != 200 {
		t.Fatalf("post: %d %v", code, out)
	}
	r = waitStatus(t, 1, "--api-url", base)
	t.Logf("degraded:\n%s", r.stdout)
	for _, want := range []string{"DEGRADED  " + base, "  - bucket unreachable", "UNREACHABLE", "last error", "1 pending"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("degraded screen lacks %q:\n%s", want, r.stdout)
		}
	}
	if got := r.err.Error(); got != "status: degraded" {
		t.Errorf("degraded: error %q", got)
	}

	// down: the bridge gone
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	r = runStatusCmd(t, "--api-url", base)
	if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.err.Error(), "status: cannot reach "+base+": ") {
		t.Errorf("stopped bridge: exit %d, err %v, stdout %q; want exit 2, cannot reach %s", r.code, r.err, r.stdout, base)
	}
}

// TestStatusUnreachable: a closed port is down (exit 2), said in one
// line; --json says so too.
func TestStatusUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	l.Close()
	r := runStatusCmd(t, "--api-url", base, "--timeout", "2s")
	if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.err.Error(), "status: cannot reach "+base+": ") ||
		strings.Contains(r.err.Error(), "\n") {
		t.Errorf("closed port: exit %d, err %q, stdout %q", r.code, r.err, r.stdout)
	}
	r = runStatusCmd(t, "--api-url", base, "--json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if r.code != 2 || doc["status"] != "down" || !strings.Contains(fmt.Sprint(doc["error"]), "cannot reach") || doc["health"] != nil {
		t.Errorf("--json on a closed port: exit %d, %v", r.code, doc)
	}
}

// TestStatusToken: a bridge with an auth file refuses status without a
// token (exit 3, naming --token) and answers it with a viewer's.
func TestStatusToken(t *testing.T) {
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--auth-file", writeAuthFile(t))
	r := runStatusCmd(t, "--api-url", base)
	if r.code != 3 || !strings.Contains(r.err.Error(), "401") || !strings.Contains(r.err.Error(), "--token") {
		t.Errorf("no token: exit %d, err %v", r.code, r.err)
	}
	r = runStatusCmd(t, "--api-url", base, "--token", testSecrets["producer-edu"])
	if r.code != 3 || !strings.Contains(r.err.Error(), "403") || !strings.Contains(r.err.Error(), "--token") {
		t.Errorf("a producer's token: exit %d, err %v", r.code, r.err)
	}
	r = runStatusCmd(t, "--api-url", base, "--token", testSecrets["viewer"])
	if r.err != nil && r.code != 1 {
		t.Fatalf("a viewer's token: exit %d, err %v\n%s", r.code, r.err, r.stdout)
	}
	if !strings.Contains(r.stdout, "queue") {
		t.Errorf("a viewer's token: no screen:\n%s", r.stdout)
	}
}

// TestStatusStoreDown: a store that cannot be written (its disk full to the
// last byte) is down: exit 2, naming why. Needs root and a tmpfs.
func TestStatusStoreDown(t *testing.T) {
	disk := mountTmpfs(t, "64m")
	base, _ := startServe(t, "--data-dir", filepath.Join(disk, "data"), "--min-free-disk", "0", "--bucket-url", "http://127.0.0.1:1")
	postRoundRobin(t, base, []string{"education"}, 1)
	fillDisk(t, disk, 0)
	i := 0
	var r statusRun
	waitFor(t, "status to say down", 30*time.Second, func() bool {
		i++
		postJSON(t, base+"/core/update", fmt.Sprintf(`{"module":"education","data":{"fill":%d,"pad":%q}}`, i, strings.Repeat("x", 4096)))
		r = runStatusCmd(t, "--api-url", base)
		return r.code == 2
	})
	t.Logf("down:\n%s", r.stdout)
	if !strings.Contains(r.stdout, "DOWN  "+base) || !strings.Contains(r.stdout, "  - store is not writable") {
		t.Errorf("down screen:\n%s", r.stdout)
	}
}

// TestStatusWatch: --watch prints a new block every interval when stdout
// is not a terminal (no ANSI escapes), until interrupted.
func TestStatusWatch(t *testing.T) {
	base, _ := startServe(t, "--data-dir", t.TempDir())
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	err := run(ctx, []string{"corebridge", "status", "--api-url", base, "--watch", "--interval", "200ms"},
		func(string) string { return "" }, strings.NewReader(""), &out, &bytes.Buffer{})
	if err != nil && exitCode(err) != 1 {
		t.Fatalf("watch: %v", err)
	}
	if n := strings.Count(out.String(), base+"  (version"); n < 3 {
		t.Errorf("%d blocks in 1.2 s at 200 ms, want several:\n%s", n, out.String())
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("ANSI escapes written to a non-terminal")
	}
}

// TestDocsPageInChromium: /docs, served by serve itself, renders the
// API reference from /openapi.json in a real browser: /core/update and
// POST /api/reconcile with their summaries, each linkable by
// operationId, the search box filters, and the page reports no error.
func TestDocsPageInChromium(t *testing.T) {
	base, _ := startServe(t, "--data-dir", t.TempDir())
	b := newBrowser(t, 1280, 900)
	b.do("open /docs", chromedp.Navigate(base+"/docs#runReconcile"))
	b.waitJS("the reference to render", 10*time.Second, `document.getElementById('content').dataset.state === 'ready'`)
	for _, c := range []struct{ id, method, path, summary string }{
		{"postUpdate", "POST", "/core/update", "Send one update"},
		{"runReconcile", "POST", "/api/reconcile", "Compare what was delivered with what the Bucket holds"},
	} {
		got := eval[string](b, fmt.Sprintf(`(() => { const s = document.getElementById(%q); if (!s) return '';
			return s.dataset.method + ' ' + s.dataset.path + ' | ' + s.querySelector('h3 .summary').textContent + ' | ' +
				s.querySelectorAll('h4').length + ' | ' + s.textContent; })()`, c.id))
		want := c.method + " " + c.path + " | " + c.summary + " | "
		if !strings.HasPrefix(got, want) {
			t.Errorf("#%s: %.200q, want it to start %q", c.id, got, want)
		}
		if !strings.Contains(got, "Responses") || !strings.Contains(got, "200") {
			t.Errorf("#%s shows no responses: %.400q", c.id, got)
		}
	}
	if n := eval[int](b, `document.querySelectorAll('#toc a[href="#postUpdate"]').length`); n != 1 {
		t.Errorf("%d links to #postUpdate in the contents, want 1", n)
	}
	if top := eval[float64](b, `document.getElementById('runReconcile').getBoundingClientRect().top`); top < 0 || top > 400 {
		t.Errorf("/docs#runReconcile: the operation is at %v px from the top, want it scrolled into view", top)
	}
	b.typeInto("search for reconcile", "#search", "reconcile repair")
	shown := eval[[]string](b, `[...document.querySelectorAll('section.op[data-path]:not(.hidden)')].map(s => s.id)`)
	if !slices.Contains(shown, "runReconcile") || slices.Contains(shown, "postUpdate") {
		t.Errorf("searching 'reconcile repair' shows %v", shown)
	}
	b.typeInto("clear the search", "#search", "")
	// The viewport only: the whole page is too long for a full screenshot.
	if png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot()); err == nil {
		file := filepath.Join(screenshotDir(t), "TestDocsPageInChromium-docs.png")
		if err := os.WriteFile(file, png, 0o644); err == nil {
			t.Logf("screenshot: %s", file)
		}
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the page reported errors: %q", p)
	}
}
