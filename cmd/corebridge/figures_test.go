package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket/server"
	"corebridge/internal/logtest"
)

// sseSummary reads the first summary event of /api/events.
func sseSummary(t *testing.T, base string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok && event == "summary" {
			var m map[string]any
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				t.Fatalf("summary event: %v: %s", err, v)
			}
			return m
		}
	}
	t.Fatalf("no summary event: %v", sc.Err())
	return nil
}

// metricSum adds up every sample of a metric in a Prometheus text scrape.
func metricSum(t *testing.T, scrape, name string) int {
	t.Helper()
	sum, found := 0.0, false
	for _, line := range strings.Split(scrape, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum, found = sum+f, true
	}
	if !found {
		t.Fatalf("/metrics has no %s", name)
	}
	return int(sum)
}

// metricHelp returns a metric's HELP text.
func metricHelp(scrape, name string) string {
	for _, line := range strings.Split(scrape, "\n") {
		if v, ok := strings.CutPrefix(line, "# HELP "+name+" "); ok {
			return v
		}
	}
	return ""
}

// TestFiguresAgree (issue 14, point 10): in one state — records synced,
// attempts that failed and were retried, records that went dead, a replay
// that went dead again — health, the dashboard's summary (JSON and SSE),
// `dlq list`, the records route and /metrics give the same figures under
// the same words, and the dashboard labels each figure with its window.
func TestFiguresAgree(t *testing.T) {
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Faults: server.Faults{FailRate: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", b.URL)
	health := func() map[string]any { return getJSON(t, base+"/core/health") }

	// Attempts that fail and are retried, then sync.
	postBatch(t, base, "education", 0, 3)
	waitFor(t, "failed attempts", 20*time.Second, func() bool { return num(health(), "failed_24h") >= 3 })
	b.Server.SetFaults(server.Faults{RejectModule: "creative"})
	waitFor(t, "education synced", 30*time.Second, func() bool { return num(health(), "synced_24h") == 3 })
	// Two records go dead, are replayed, and go dead again.
	ids := postBatch(t, base, "creative", 0, 2)
	waitFor(t, "2 dead letters", 20*time.Second, func() bool { return num(health(), "dead_count") == 2 })
	dlq := func(args ...string) string {
		var out, errOut logtest.Buffer
		err := run(context.Background(), append([]string{"corebridge", "dlq"}, args...),
			func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
		if err != nil {
			t.Fatalf("dlq %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	dlq("replay", "--api-url", base, "--module", "creative")
	waitFor(t, "the replay dead again", 20*time.Second, func() bool {
		h := health()
		return num(h, "dead_24h") == 4 && num(h, "dead_count") == 2 && num(h, "pending_queue") == 0
	})

	h, sum, sse := health(), getJSON(t, base+"/api/summary"), sseSummary(t, base)
	for _, k := range []string{"received_24h", "synced_24h", "failed_24h", "dead_24h", "replayed_24h", "failed_attempts_24h",
		"ingest_errors_24h", "error_count_24h", "dead_count", "pending_queue", "received_total", "synced_total"} {
		if _, ok := h[k]; !ok {
			t.Errorf("health has no %s", k)
		}
		if fmt.Sprint(sum[k]) != fmt.Sprint(h[k]) || fmt.Sprint(sse[k]) != fmt.Sprint(h[k]) {
			t.Errorf("%s: health %v, /api/summary %v, summary event %v", k, h[k], sum[k], sse[k])
		}
	}
	failed, dead, deadNow := num(h, "failed_24h"), num(h, "dead_24h"), num(h, "dead_count")
	if dead != 4 || deadNow != 2 || num(h, "replayed_24h") != 2 || failed < 3 {
		t.Errorf("went dead 24 h %d, dead now %d, replayed %d, failed %d; want 4, 2, 2, ≥ 3", dead, deadNow, num(h, "replayed_24h"), failed)
	}
	if got := num(h, "failed_attempts_24h"); got != failed+dead {
		t.Errorf("failed_attempts_24h = %d, want failed + went dead = %d", got, failed+dead)
	}
	if got := num(h, "error_count_24h"); got != failed+dead+num(h, "ingest_errors_24h") {
		t.Errorf("error_count_24h = %d, want failed + went dead + ingest errors", got)
	}

	// /metrics: the same counts (everything happened within 24 h of a new store).
	scrape := getText(t, base+"/metrics")
	for name, want := range map[string]int{
		"corebridge_module_dead_records":    deadNow,
		"corebridge_records_dead_total":     dead,
		"corebridge_records_synced_total":   num(h, "synced_24h"),
		"corebridge_records_replayed_total": num(h, "replayed_24h"),
		"corebridge_records_received_total": num(h, "received_24h"),
		"corebridge_queue_depth":            num(h, "pending_queue"),
	} {
		if got := metricSum(t, scrape, name); got != want {
			t.Errorf("%s = %d, want %d as health says", name, got, want)
		}
	}
	for name, window := range map[string]string{
		"corebridge_module_dead_records":     "now",
		"corebridge_records_dead_total":      "since the store was created",
		"corebridge_records_synced_total":    "since the store was created",
		"corebridge_delivery_attempts_total": "since this process started",
		"corebridge_queue_depth":             "now",
	} {
		if help := metricHelp(scrape, name); !strings.Contains(help, window) {
			t.Errorf("HELP %s = %q; want its window, %q", name, help, window)
		}
	}

	// dlq list: ATTEMPTS (since the last replay) and HISTORY (every
	// attempt) agree with the dead-letter and record routes.
	out := dlq("list", "--api-url", base)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	head := strings.Fields(lines[0])
	col := func(name string) int {
		for i, f := range head {
			if f == name {
				return i
			}
		}
		t.Fatalf("dlq list has no %s column:\n%s", name, out)
		return -1
	}
	ca, ch, cid := col("ATTEMPTS"), col("HISTORY"), col("ID")
	rows := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= ch || !strings.Contains(strings.Join(ids, " "), f[cid]) {
			continue
		}
		rows++
		rec := getJSON(t, base+"/api/records/"+f[cid])
		hist, _ := rec["attempts_history"].([]any)
		if f[ca] != fmt.Sprint(num(rec, "attempts")) || f[ch] != strconv.Itoa(len(hist)) || len(hist) != 2 || f[ca] != "1" {
			t.Errorf("dlq list %s: ATTEMPTS %s, HISTORY %s; the record: attempts %v, history of %d; want 1 and 2",
				f[cid], f[ca], f[ch], rec["attempts"], len(hist))
		}
	}
	if rows != 2 {
		t.Errorf("dlq list shows %d of the 2 dead letters:\n%s", rows, out)
	}
	if !strings.Contains(out, "since the last replay") {
		t.Errorf("dlq list does not say what ATTEMPTS counts:\n%s", out)
	}
	var page struct {
		DeadLetters []map[string]any `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(getText(t, base+"/api/dead-letters")), &page); err != nil || len(page.DeadLetters) != 2 {
		t.Fatalf("dead letters: %v %v", err, page)
	}
	for _, d := range page.DeadLetters {
		if num(d, "attempts") != 1 || num(d, "attempts_total") != 2 {
			t.Errorf("dead letter %v: attempts %v, attempts_total %v; want 1, 2", d["id"], d["attempts"], d["attempts_total"])
		}
	}

	// The dashboard: the same figures, each under a label with its window.
	br := newBrowser(t, 1280, 900)
	br.open(base)
	br.waitJS("live updates", 5*time.Second, `document.getElementById('live-state').dataset.live === 'live'`)
	var diff string
	deadline := time.Now().Add(5 * time.Second)
	for diff = kpiMismatch(br.outputs(), health()); diff != ""; diff = kpiMismatch(br.outputs(), health()) {
		if time.Now().After(deadline) {
			t.Fatalf("the page's figures differ from /core/health: %s", diff)
		}
		time.Sleep(100 * time.Millisecond)
	}
	raw := eval[string](br, `JSON.stringify(Object.fromEntries([...document.querySelectorAll('main output[id]')].map(o => {
		const card = o.closest('.kpi'), span = o.closest('.totals span'), panel = o.closest('.panel');
		const label = card ? card.querySelector('h2').textContent : span ? span.textContent : panel ? panel.querySelector('h2').textContent : '';
		return [o.id, label.replace(/\s+/g, ' ').trim()];
	})))`)
	var labels map[string]string
	if err := json.Unmarshal([]byte(raw), &labels); err != nil {
		t.Fatal(err)
	}
	for id, label := range labels {
		if !strings.Contains(label, "24 h") && !strings.Contains(label, "now") && !strings.Contains(label, "all time") {
			t.Errorf("output %s is labelled %q: no window (24 h, now, all time)", id, label)
		}
	}
	for id, want := range map[string]string{"totals-dead": "Dead now", "totals-went-dead": "Went dead 24 h", "dl-count": "now"} {
		if !strings.Contains(labels[id], want) {
			t.Errorf("output %s is labelled %q, want %q in it", id, labels[id], want)
		}
	}
	for _, id := range []string{"kpi-success-detail", "kpi-errors-detail"} {
		text := eval[string](br, `document.getElementById('`+id+`').textContent`)
		for _, want := range []string{fmt.Sprintf("%d failed", failed), fmt.Sprintf("%d went dead", dead)} {
			if !strings.Contains(text, want) {
				t.Errorf("%s reads %q; want %q, the words and figures of the other cards", id, text, want)
			}
		}
		if strings.Contains(text, "failed attempt") {
			t.Errorf("%s reads %q: 'failed attempts' counts what the other card calls failed + went dead", id, text)
		}
	}
	if p := br.Problems(); len(p) > 0 {
		t.Errorf("the page reported %d problems:\n%s", len(p), strings.Join(p, "\n"))
	}
	br.screenshot("figures")
}
