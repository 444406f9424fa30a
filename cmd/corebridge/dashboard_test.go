package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket/server"

	"github.com/chromedp/chromedp"
)

// The dashboard's browser tests: the real program (serve, through run),
// a real Bucket, and Debian's Chromium driven by chromedp. They do not run
// in parallel: a browser and a bridge on 2 cores are timing enough.

// liveWait is how long the page may take to show a change: the dashboard
// promises within 2 s.
const liveWait = 2 * time.Second

// healthKPIs maps the page's figures (data-value of its <output>s) to the
// fields of /core/health they must equal.
var healthKPIs = map[string]string{
	"kpi-success-value":   "sync_success_pct_24h",
	"kpi-latency-value":   "avg_latency_ms_24h",
	"kpi-latency-p95":     "p95_latency_ms_24h",
	"kpi-errors-value":    "error_count_24h",
	"kpi-queue-value":     "pending_queue",
	"kpi-queue-oldest":    "oldest_pending_age_s",
	"kpi-queue-drain":     "drain_eta_s",
	"totals-received":     "received_24h",
	"totals-synced":       "synced_24h",
	"totals-dead":         "dead_count",
	"totals-went-dead":    "dead_24h",
	"kpi-success-synced":  "synced_24h",
	"kpi-success-failed":  "failed_24h",
	"kpi-success-dead":    "dead_24h",
	"kpi-errors-failed":   "failed_24h",
	"kpi-errors-dead":     "dead_24h",
	"kpi-errors-ingest":   "ingest_errors_24h",
	"kpi-errors-rejected": "rejected_24h",
	"totals-received-all": "received_total",
}

// kpiMismatch compares the page's figures with a health body and says how
// they differ ("" when they are equal).
func kpiMismatch(page map[string]string, h map[string]any) string {
	var diffs []string
	for out, field := range healthKPIs {
		want, ok := h[field]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("health has no %s", field))
			continue
		}
		got := page[out]
		switch w := want.(type) {
		case nil:
			if got != "" {
				diffs = append(diffs, fmt.Sprintf("%s=%q, health %s=null", out, got, field))
			}
		case float64:
			f, err := strconv.ParseFloat(got, 64)
			if err != nil || math.Abs(f-w) > 1e-9*math.Max(1, math.Abs(w)) {
				diffs = append(diffs, fmt.Sprintf("%s=%q, health %s=%v", out, got, field, w))
			}
		default:
			diffs = append(diffs, fmt.Sprintf("health %s is %T", field, want))
		}
	}
	return strings.Join(diffs, "; ")
}

// TestDashboardLoadsAndMatchesHealth: / serves the page with its hashed
// assets, the page loads with no console error, exception or failed load,
// goes live, and its KPI figures equal /core/health's.
func TestDashboardLoadsAndMatchesHealth(t *testing.T) {
	b := newBrowser(t, 1280, 900)
	base, _ := startServe(t, "--data-dir", t.TempDir())
	postBatch(t, base, "education", 0, 5)
	postBatch(t, base, "finance", 0, 3)
	waitFor(t, "8 records synced", 20*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 8
	})

	// Served by serve itself: the page revalidated, the assets immutable.
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" || !strings.Contains(string(html), "InsightFlow") {
		t.Fatalf("GET /: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	js := regexp.MustCompile(`/assets/app\.[0-9a-f]+\.js`).FindString(string(html))
	if js == "" {
		t.Fatalf("the page names no hashed script:\n%s", html)
	}
	resp, err = http.Get(base + js)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("GET %s: %d, Cache-Control %q", js, resp.StatusCode, resp.Header.Get("Cache-Control"))
	}

	b.open(base)
	b.waitJS("live updates", 5*time.Second, `document.getElementById('live-state').dataset.live === 'live'`)
	b.waitJS("the modules table", 5*time.Second, `document.querySelectorAll('#modules tr[data-module]').length === 2`)

	var diff string
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := getJSON(t, base+"/core/health")
		if diff = kpiMismatch(b.outputs(), h); diff == "" {
			word := eval[string](b, `document.getElementById('status-word').textContent`)
			if want := map[string]string{"ok": "OK", "degraded": "Degraded", "down": "Down"}[h["status"].(string)]; word != want {
				t.Fatalf("status word %q, health says %v", word, h["status"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page's figures differ from /core/health: %s", diff)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := eval[string](b, `document.getElementById('kpi-queue-value').textContent`); got != "0" {
		t.Errorf("queue depth shows %q, want 0", got)
	}
	if got := eval[string](b, `document.getElementById('kpi-success-value').textContent`); got != "100.0 %" {
		t.Errorf("sync success shows %q, want 100.0 %%", got)
	}
	b.waitJS("the automation panel", 5*time.Second, `/No automation runner attached/.test(document.getElementById('automation').textContent)`)

	// Let several summaries and one periodic refresh run before judging.
	time.Sleep(6 * time.Second)
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the page reported %d problems:\n%s", len(p), strings.Join(p, "\n"))
	}
	b.screenshot("loaded")
}

// TestDashboardLiveUpdates: a posted record shows in the counts, the event
// stream and the modules table within 2 s without a reload; the stream
// pauses and filters; the table sorts by click and by keyboard; the chart
// window toggles and hovering a chart shows a point's values.
func TestDashboardLiveUpdates(t *testing.T) {
	b := newBrowser(t, 1280, 900)
	base, _ := startServe(t, "--data-dir", t.TempDir())
	postBatch(t, base, "education", 0, 4)
	waitFor(t, "4 records synced", 20*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 4
	})
	b.open(base)
	b.waitJS("live updates", 5*time.Second, `document.getElementById('live-state').dataset.live === 'live'`)
	b.waitJS("the received total", 5*time.Second, `document.getElementById('totals-received-all').dataset.value === '4'`)
	b.waitJS("the chart's received", 5*time.Second, `document.getElementById('chart-flow').dataset.sum === '4'`)

	code, out := postJSON(t, base+"/core/update", `{"module":"dashlive","data":{"n":1}}`)
	if code != 200 {
		t.Fatalf("post: %d %v", code, out)
	}
	id := out["record_id"].(string)
	took := b.waitJS("the new record in the counts, the chart, the event stream and the modules table", liveWait, fmt.Sprintf(`
		document.getElementById('totals-received-all').dataset.value === '5' &&
		document.getElementById('chart-flow').dataset.sum === '5' &&
		[...document.querySelectorAll('#events li[data-module="dashlive"]')].some(li => li.textContent.includes(%q)) &&
		!!document.querySelector('#modules tr[data-module="dashlive"]')`, id))
	t.Logf("the page showed the record %s after posting it", took.Round(time.Millisecond))
	b.waitJS("its synced event", 5*time.Second, `!!document.querySelector('#events li[data-module="dashlive"][data-kind="synced"]')`)

	// Pause holds new events back; resume shows them.
	b.do("pause", chromedp.Click(chromedp.ID("events-pause")))
	_, out = postJSON(t, base+"/core/update", `{"module":"dashlive","data":{"n":2}}`)
	held := out["record_id"].(string)
	b.waitJS("held events counted", 5*time.Second, `/Paused: [1-9]/.test(document.getElementById('events-note').textContent)`)
	if eval[bool](b, fmt.Sprintf(`document.getElementById('events').textContent.includes(%q)`, held)) {
		t.Fatal("a paused stream showed a new event")
	}
	b.do("resume", chromedp.Click(chromedp.ID("events-pause")))
	b.waitJS("held events shown on resume", liveWait, fmt.Sprintf(`document.getElementById('events').textContent.includes(%q)`, held))

	// Filter by module.
	postBatch(t, base, "education", 100, 1)
	b.waitJS("the education event", 5*time.Second, `!!document.querySelector('#events li[data-module="education"]')`)
	b.do("filter education", chromedp.SetValue(chromedp.ID("events-module"), "education"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('events-module').dispatchEvent(new Event('change'))`))
	b.waitJS("only education events", liveWait, `(() => { const li = [...document.querySelectorAll('#events li')];
		return li.length > 0 && li.every(l => l.dataset.module === 'education'); })()`)
	b.do("filter none", chromedp.SetValue(chromedp.ID("events-module"), ""),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('events-module').dispatchEvent(new Event('change'))`))
	b.waitJS("all events again", liveWait, `!!document.querySelector('#events li[data-module="dashlive"]')`)

	// Sort: by click (received ascending, then descending), by keyboard.
	firstRow := `document.querySelector('#modules tbody tr').dataset.module`
	b.waitJS("both modules listed with their counts", 5*time.Second,
		`document.querySelector('#modules tr[data-module="dashlive"] [data-col="received"]').textContent === '2' &&
		 document.querySelector('#modules tr[data-module="education"] [data-col="received"]').textContent === '5'`)
	b.do("sort by received", chromedp.Click(chromedp.CSS(`#modules th[data-key="received"] button`)))
	if got := eval[string](b, firstRow); got != "dashlive" {
		t.Fatalf("sorted by received ascending, first row %q", got)
	}
	b.do("sort by received again", chromedp.Click(chromedp.CSS(`#modules th[data-key="received"] button`)))
	if got := eval[string](b, firstRow); got != "education" {
		t.Fatalf("sorted by received descending, first row %q", got)
	}
	if s := eval[string](b, `document.querySelector('#modules th[data-key="received"]').getAttribute('aria-sort')`); s != "descending" {
		t.Fatalf("aria-sort %q", s)
	}
	b.do("sort by module with the keyboard", chromedp.Focus(chromedp.CSS(`#modules th[data-key="module"] button`)), chromedp.KeyEvent("\r"))
	if got := eval[string](b, firstRow); got != "dashlive" {
		t.Fatalf("Enter on the module header: first row %q, want dashlive", got)
	}

	// Chart window toggle and hover.
	b.do("24 h window", chromedp.Click(chromedp.ID("win-24h")))
	b.waitJS("the 24 h series, by minute", 5*time.Second, `document.getElementById('win-24h').getAttribute('aria-pressed') === 'true' &&
		document.getElementById('chart-flow').dataset.points === '1440' && document.getElementById('chart-latency').dataset.points === '1440'`)
	b.do("1 h window", chromedp.Click(chromedp.ID("win-1h")))
	b.waitJS("the 1 h series", 5*time.Second, `document.getElementById('chart-flow').dataset.points === '60' &&
		document.querySelector('#chart-flow .step').textContent === 'minute' &&
		document.querySelectorAll('#chart-flow svg path').length === 3`)
	x := eval[float64](b, `(() => { const r = document.querySelector('#chart-flow .plot').getBoundingClientRect(); return r.right - 10; })()`)
	y := eval[float64](b, `(() => { const r = document.querySelector('#chart-flow .plot').getBoundingClientRect(); return r.top + r.height / 2; })()`)
	b.do("hover the chart", chromedp.MouseEvent(chromedp.MouseMoved, x, y))
	b.waitJS("the hovered point's values", liveWait, `(() => { const tip = document.querySelector('#chart-flow .tip');
		return !tip.hidden && /received [0-9]/.test(tip.textContent) && /synced [0-9]/.test(tip.textContent); })()`)
	b.screenshot("live")
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the page reported %d problems:\n%s", len(p), strings.Join(p, "\n"))
	}
}

// TestDashboardDeadLetterReplay: dead letters appear with their reason;
// View shows the payload; Replay makes one sync; an edited payload is saved
// and synced; Replay selected and Replay all of a module do the rest.
func TestDashboardDeadLetterReplay(t *testing.T) {
	b := newBrowser(t, 1280, 1000)
	bk, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Faults: server.Faults{RejectModule: "creative"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bk.Stop(context.Background()) })
	// New dead letters make health degraded for --stale-after, and 2 of 2
	// dead is a 0% success rate: shorten the one and turn off the other, so
	// that health is ok again and the badge shows its dead-letter warning.
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", bk.URL,
		"--stale-after", "1s", "--degraded-success-pct", "0")
	b.open(base)
	b.waitJS("live updates", 5*time.Second, `document.getElementById('live-state').dataset.live === 'live'`)

	ids := postBatch(t, base, "creative", 0, 2)
	row := func(id string) string { return fmt.Sprintf(`#dl-rows tr[data-id=%q]`, id) }
	b.waitJS("two dead letters with their reason", 10*time.Second, fmt.Sprintf(`
		!!document.querySelector('%s') && !!document.querySelector('%s') &&
		/rejected/.test(document.querySelector('%s .reason').textContent)`, row(ids[0]), row(ids[1]), row(ids[0])))
	b.waitJS("the dead count", liveWait, `document.getElementById('dl-count').dataset.value === '2'`)
	// Health is ok (nothing stuck), but dead letters wait for an operator:
	// the badge says so as a warning, not a green OK.
	b.waitJS("the badge warning of dead letters", liveWait, `document.getElementById('status').dataset.status === 'warn' &&
		/2 dead letters/.test(document.getElementById('status-word').textContent)`)

	b.click("view the payload", row(ids[0])+" button.dl-view")
	b.waitJS("the payload", liveWait, fmt.Sprintf(`/"note": "e2e"/.test(document.querySelector('tr.payload[data-for=%q] pre').textContent)`, ids[0]))
	b.screenshot("dead-letters")

	synced := func(id string) func() bool {
		return func() bool { return getJSON(t, base+"/api/records/"+id)["state"] == "synced" }
	}
	bk.Server.SetFaults(server.Faults{})
	b.click("replay one", row(ids[0])+" button.dl-replay")
	waitFor(t, "the replayed record to sync", 10*time.Second, synced(ids[0]))
	b.waitJS("the replayed letter gone from the list", 5*time.Second, fmt.Sprintf(`!document.querySelector('%s')`, row(ids[0])))
	if eval[bool](b, fmt.Sprintf(`!document.querySelector('%s')`, row(ids[1]))) {
		t.Fatal("replaying one letter removed the other")
	}

	// Edit, then replay.
	b.click("edit", row(ids[1])+" button.dl-edit")
	b.waitJS("the editor", liveWait, fmt.Sprintf(`!!document.querySelector('tr.payload[data-for=%q] textarea')`, ids[1]))
	ta := fmt.Sprintf(`tr.payload[data-for=%q] textarea`, ids[1])
	b.typeInto("change the data", ta, `{"n": 1, "note": "edited in the dashboard"}`)
	// A re-render (live events cause them) keeps the edit, the focus and
	// the cursor: refresh the list while the editor has the focus.
	eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); window.oldEditor = e;
		e.focus(); e.setSelectionRange(3, 7); document.getElementById('dl-refresh').click(); return true; })()`, ta))
	b.waitJS("the list re-rendered", liveWait, fmt.Sprintf(`document.querySelector(%q) !== window.oldEditor`, ta))
	if got := eval[string](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q);
		return [document.activeElement === e, e.selectionStart, e.selectionEnd, e.value].join('|'); })()`, ta)); got != `true|3|7|{"n": 1, "note": "edited in the dashboard"}` {
		t.Fatalf("after a re-render the editor is %q, want focused, cursor 3-7, the edit kept", got)
	}
	b.click("save and replay", fmt.Sprintf(`tr.payload[data-for=%q] button.dl-save`, ids[1]))
	waitFor(t, "the edited record to sync", 10*time.Second, synced(ids[1]))
	rec := getJSON(t, base+"/api/records/"+ids[1])
	if d, _ := rec["data"].(map[string]any); d["note"] != "edited in the dashboard" {
		t.Fatalf("the synced record's data is %v, want the edit", rec["data"])
	}

	// Replay selected, and replay all of a module.
	bk.Server.SetFaults(server.Faults{RejectModule: "creative"})
	more := postBatch(t, base, "creative", 10, 4)
	b.waitJS("four new dead letters", 10*time.Second, fmt.Sprintf(`document.querySelectorAll('#dl-rows tr[data-id]').length === 4 && !!document.querySelector('%s')`, row(more[3])))
	bk.Server.SetFaults(server.Faults{})
	b.click("select one", row(more[0])+" input[type=checkbox]")
	b.click("select another", row(more[1])+" input[type=checkbox]")
	b.waitJS("the selection counted", liveWait, `document.getElementById('dl-replay-selected').textContent === 'Replay selected (2)'`)
	b.do("replay selected", chromedp.Click(chromedp.ID("dl-replay-selected")))
	waitFor(t, "the selected records to sync", 10*time.Second, func() bool { return synced(more[0])() && synced(more[1])() })
	if synced(more[2])() {
		t.Fatal("replay selected replayed an unselected letter")
	}
	b.do("choose the module", chromedp.SetValue(chromedp.ID("dl-module"), "creative"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('dl-module').dispatchEvent(new Event('change'))`))
	b.waitJS("replay all of creative", liveWait, `!document.getElementById('dl-replay-module').disabled &&
		document.getElementById('dl-replay-module').textContent === 'Replay all of creative'`)
	b.do("replay the module", chromedp.Click(chromedp.ID("dl-replay-module")))
	waitFor(t, "the module's records to sync", 10*time.Second, func() bool { return synced(more[2])() && synced(more[3])() })
	b.waitJS("an empty list", 5*time.Second, `/No dead letters/.test(document.getElementById('dl-rows').textContent)`)
	b.screenshot("replayed")
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the page reported %d problems:\n%s", len(p), strings.Join(p, "\n"))
	}
}

// rgb parses a computed CSS colour "rgb(r, g, b)".
func rgb(t *testing.T, s string) (r, g, b int) {
	t.Helper()
	if _, err := fmt.Sscanf(s, "rgb(%d, %d, %d)", &r, &g, &b); err != nil {
		t.Fatalf("colour %q: %v", s, err)
	}
	return r, g, b
}

// TestDashboardStatusFollowsBucket: the status turns amber and says
// Degraded, with the reason, when the Bucket stops, and green OK when it is back.
func TestDashboardStatusFollowsBucket(t *testing.T) {
	b := newBrowser(t, 1280, 900)
	bdir := t.TempDir()
	bk, err := server.Start(context.Background(), server.Config{DataDir: bdir})
	if err != nil {
		t.Fatal(err)
	}
	// One failed delivery among four is a 75% success rate, which keeps
	// health degraded for 24 h by default: the rule is not this test's.
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", bk.URL,
		"--breaker-threshold", "1", "--breaker-cooldown", "500ms", "--degraded-success-pct", "0")
	postBatch(t, base, "robotics", 0, 2)
	waitFor(t, "2 records synced", 20*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 2
	})
	b.open(base)
	statusIs := func(st, word string) string {
		return fmt.Sprintf(`document.getElementById('status').dataset.status === %q && document.getElementById('status-word').textContent === %q`, st, word)
	}
	colour := `getComputedStyle(document.getElementById('status')).color`
	b.waitJS("OK", 5*time.Second, statusIs("ok", "OK"))
	if r, g, bl := rgb(t, eval[string](b, colour)); !(g > r && g > bl) {
		t.Fatalf("OK is drawn in rgb(%d, %d, %d), not green", r, g, bl)
	}

	if err := bk.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	postBatch(t, base, "robotics", 10, 1) // a delivery to fail
	waitFor(t, "health to say degraded", 20*time.Second, func() bool { return getJSON(t, base+"/core/health")["status"] == "degraded" })
	b.waitJS("Degraded with the reason", liveWait, statusIs("degraded", "Degraded")+
		` && /unreachable/.test(document.getElementById('status-reasons').textContent)`+
		` && document.getElementById('meta-bucket-reach').textContent === 'unreachable'`)
	if r, g, bl := rgb(t, eval[string](b, colour)); !(r >= g && g > bl && r > 100) {
		t.Fatalf("Degraded is drawn in rgb(%d, %d, %d), not amber", r, g, bl)
	}
	b.screenshot("degraded")

	bk, err = server.Start(context.Background(), server.Config{DataDir: bdir, Addr: bk.Addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bk.Stop(context.Background()) })
	waitFor(t, "health to say ok", 20*time.Second, func() bool { return getJSON(t, base+"/core/health")["status"] == "ok" })
	b.waitJS("OK again", liveWait, statusIs("ok", "OK")+` && document.getElementById('meta-bucket-reach').textContent === 'reachable'`)
	b.screenshot("recovered")
}

// freeAddr returns a loopback address nothing listens on, so that a test
// can stop serve and start it again where the page expects it.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDashboardFallsBackToPolling: when the bridge goes away the page says
// that live updates are lost and it polls; when the bridge is back it
// reconnects by itself and is live again. Stopping serve is not held up by
// the open event stream.
func TestDashboardFallsBackToPolling(t *testing.T) {
	b := newBrowser(t, 1280, 900)
	addr, dir := freeAddr(t), t.TempDir()
	base, stop := startServe(t, "--data-dir", dir, "--addr", addr)
	b.open(base)
	b.waitJS("live updates", 5*time.Second, `document.getElementById('live-state').dataset.live === 'live'`)

	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("serve took %s to stop with a dashboard open; the event stream must end on shutdown", d.Round(time.Millisecond))
	}
	b.waitJS("the lost-updates notice", 5*time.Second, `!document.getElementById('live-notice').hidden &&
		/Live updates lost — polling every 30 s/.test(document.getElementById('live-notice').textContent) &&
		document.getElementById('live-state').dataset.live === 'polling'`)
	b.screenshot("polling")

	base2, _ := startServe(t, "--data-dir", dir, "--addr", addr)
	if base2 != base {
		t.Fatalf("serve came back at %s, not %s", base2, base)
	}
	postBatch(t, base, "education", 0, 3)
	b.waitJS("live again, with the new figures", 15*time.Second, `document.getElementById('live-notice').hidden &&
		document.getElementById('live-state').dataset.live === 'live' &&
		document.getElementById('totals-received-all').dataset.value === '3'`)
}

// TestDashboardResponsive: at a phone's 390 px and a wide 1440 px, in light
// and dark, nothing overflows sideways and every panel is on screen.
func TestDashboardResponsive(t *testing.T) {
	b := newBrowser(t, 1440, 1000)
	bk, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Faults: server.Faults{RejectModule: "environmental_monitoring"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bk.Stop(context.Background()) })
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", bk.URL)
	postBatch(t, base, "education", 0, 20)
	postBatch(t, base, "environmental_monitoring", 0, 3) // long names and reasons in the tables
	waitFor(t, "3 dead letters", 20*time.Second, func() bool { return num(getJSON(t, base+"/bucket/status"), "dead_count") == 3 })

	var backgrounds []string
	for _, c := range []struct {
		width  int64
		scheme string
	}{{390, "light"}, {1440, "light"}, {1440, "dark"}, {390, "dark"}} {
		name := fmt.Sprintf("%dpx-%s", c.width, c.scheme)
		b.colorScheme(c.scheme)
		b.do("viewport "+name, chromedp.EmulateViewport(c.width, 900))
		b.open(base)
		b.waitJS("content "+name, 5*time.Second, `document.querySelectorAll('#modules tr[data-module]').length === 2 &&
			document.querySelectorAll('#dl-rows tr[data-id]').length === 3 && document.querySelectorAll('#chart-flow svg').length === 1`)
		if w := eval[float64](b, `innerWidth`); w != float64(c.width) {
			t.Fatalf("%s: innerWidth %v", name, w)
		}
		overflow := eval[string](b, `(() => {
			const W = innerWidth, out = [];
			if (document.scrollingElement.scrollWidth > W) out.push('page scrolls sideways: ' + document.scrollingElement.scrollWidth + ' > ' + W);
			for (const id of ['status', 'kpi-success', 'kpi-latency', 'kpi-errors', 'kpi-queue', 'charts', 'modules', 'events', 'dead-letters', 'automation']) {
				const el = document.getElementById(id);
				const box = (id === 'events' ? el.closest('.panel') : el.closest('.scroll') || el).getBoundingClientRect(); // an empty list has no height; its panel shows
				if (box.width < 1 || box.height < 1) out.push('#' + id + ' is not visible');
				else if (box.left < 0 || box.right > W + 0.5) out.push('#' + id + ' spans ' + box.left + '..' + box.right);
			}
			return out.join('; ');
		})()`)
		if overflow != "" {
			b.screenshot(name + "-overflow")
			t.Errorf("%s: %s", name, overflow)
		}
		backgrounds = append(backgrounds, eval[string](b, `getComputedStyle(document.body).backgroundColor`))
		b.screenshot(name)
	}
	lr, lg, lb := rgb(t, backgrounds[1])
	dr, dg, db := rgb(t, backgrounds[2])
	if !(lr+lg+lb > 600 && dr+dg+db < 150) {
		t.Errorf("light background %s, dark %s: prefers-color-scheme not followed", backgrounds[1], backgrounds[2])
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the page reported %d problems:\n%s", len(p), strings.Join(p, "\n"))
	}
}

// TestDashboardAutomationPanel: with serve --automation, the panel lists
// the runs (job, status) and says which action failed and why.
func TestDashboardAutomationPanel(t *testing.T) {
	b := newBrowser(t, 1280, 900)
	config, reports := writeAutomation(t)
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--automation", config, "--automation-reports", reports)
	waitRuns(t, base, 2)
	b.open(base)
	b.waitJS("two runs in the panel", 10*time.Second,
		`document.querySelectorAll('#automation tr[data-status]').length === 2`)
	text := eval[string](b, `document.getElementById('automation').textContent`)
	for _, want := range []string{"send-education", "queue-must-be-negative", "onStartup", "ok", "failed", "check_health", "pending_queue"} {
		if !strings.Contains(text, want) {
			t.Errorf("automation panel lacks %q: %s", want, text)
		}
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
	b.screenshot("automation")
}
