package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMetricsAndLogFiles runs serve with its embedded Bucket, sends
// records, and checks /metrics (names, values, and promtool's lint when
// promtool is installed: CI installs it and sets
// COREBRIDGE_REQUIRE_PROMTOOL=1) and the InsightFlow log files.
func TestMetricsAndLogFiles(t *testing.T) {
	dir := t.TempDir()
	core, flow, snaps := filepath.Join(dir, "logs", "core_sync.log"), filepath.Join(dir, "insight", "flow.log"), filepath.Join(dir, "logs", "metrics.jsonl")
	base, stop := startServe(t, "--data-dir", filepath.Join(dir, "data"), "--core-sync-log", core, "--flow-log", flow,
		"--metrics-log", snaps, "--metrics-interval", "100ms", "--log-data")
	for i := range 5 {
		code, _ := postJSON(t, base+"/core/update", fmt.Sprintf(`{"module":"finance","session_id":"s%d","data":{"i":%d}}`, i, i))
		if code != 200 {
			t.Fatalf("post: %d", code)
		}
	}
	postJSON(t, base+"/core/update", `{"module":"finance","session_id":"s0","data":{"i":0}}`) // a duplicate
	if code, _ := postJSON(t, base+"/core/update", `{"module":"","data":{}}`); code != 422 {
		t.Fatalf("invalid post: %d", code)
	}
	waitFor(t, "5 records synced", 20*time.Second, func() bool {
		h := getJSON(t, base+"/core/health")
		return h["synced_total"] == 5.0
	})

	body := getText(t, base+"/metrics")
	for _, want := range []string{
		`corebridge_records_received_total{module="finance"} 5`,
		`corebridge_records_synced_total{module="finance"} 5`,
		`corebridge_records_dead_total{module="finance"} 0`,
		`corebridge_delivery_attempts_total{outcome="ok"}`,
		`corebridge_queue_depth 0`,
		`corebridge_oldest_pending_age_seconds 0`,
		`corebridge_delivery_latency_seconds_count 5`,
		`corebridge_ingest_requests_total{code="200",route="update"} 6`,
		`corebridge_ingest_requests_total{code="422",route="update"} 1`,
		`corebridge_breaker_state 0`,
		`corebridge_module_silent{module="finance"} 0`,
		`corebridge_commit_batch_records_bucket`,
		`corebridge_commit_duration_seconds_bucket`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	promtool(t, body)

	// The health figures agree with what was sent.
	h := getJSON(t, base+"/core/health")
	for k, want := range map[string]float64{"received_24h": 5, "duplicates_24h": 1, "rejected_24h": 1, "synced_24h": 5,
		"sync_success_pct_24h": 100, "error_count_24h": 0, "queue_depth": 0, "drain_eta_s": 0} {
		if h[k] != want {
			t.Errorf("health %s = %v, want %v", k, h[k], want)
		}
	}
	time.Sleep(300 * time.Millisecond) // a few metrics snapshots
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Flushed by the graceful shutdown.
	lines := jsonLines(t, core)
	if len(lines) != 5 || lines[0]["module"] != "finance" || lines[0]["record_id"] == "" || lines[0]["data"] == nil {
		t.Errorf("core_sync.log: %d lines, first %v; want 5 with data", len(lines), lines)
	}
	lines = jsonLines(t, flow)
	if len(lines) != 5 || lines[4]["status"] != "synced" || lines[4]["attempt"] != 1.0 {
		t.Errorf("flow.log: %d lines %v; want 5 synced on the first attempt", len(lines), lines)
	}
	lines = jsonLines(t, snaps)
	if len(lines) < 2 || lines[len(lines)-1]["synced_total"] != 5.0 {
		t.Errorf("metrics.jsonl: %d snapshots, last %v", len(lines), lines[len(lines)-1])
	}
}

// TestLogFilesOff: "off" turns a log file off.
func TestLogFilesOff(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, "--data-dir", filepath.Join(dir, "data"), "--core-sync-log", "off", "--flow-log", "off", "--metrics-log", "off")
	postJSON(t, base+"/core/update", `{"module":"m","data":{}}`)
	stop()
	for _, d := range []string{"logs", "insight"} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s/ was created in the working directory with every log off", d)
		}
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func jsonLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

var promtoolProblem = regexp.MustCompile(`(?m)^.+$`)

// promtool runs `promtool check metrics` on a scrape.
func promtool(t *testing.T, scrape string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("COREBRIDGE_REQUIRE_PROMTOOL") == "1" {
			t.Fatal("promtool is required (COREBRIDGE_REQUIRE_PROMTOOL=1) but not installed")
		}
		t.Log("promtool not installed: lint skipped (apt-get install prometheus)")
		return
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil || promtoolProblem.Match(out) {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
