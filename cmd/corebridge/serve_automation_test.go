package main

import (
	"corebridge/internal/logtest"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// automationConfig is two startup jobs: one that sends an update and
// passes, one whose assertion fails.
const automationConfig = `{"jobs":[
 {"name":"send-education","trigger":{"type":"onStartup","value":0},
  "actions":[{"type":"send_core_update","data":{"module":"education","data":{"score":91}}},{"type":"get_bucket_status"}]},
 {"name":"queue-must-be-negative","trigger":{"type":"onStartup","value":0},
  "actions":[{"type":"check_health","data":{"assert":["pending_queue < 0"]}}]}
]}`

func writeAutomation(t *testing.T) (config, reports string) {
	t.Helper()
	dir := t.TempDir()
	config = filepath.Join(dir, "config.json")
	if err := os.WriteFile(config, []byte(automationConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return config, filepath.Join(dir, "reports")
}

// waitRuns polls /api/automation/runs until n runs are listed.
func waitRuns(t *testing.T, base string, n int) []map[string]any {
	t.Helper()
	var runs []map[string]any
	waitFor(t, fmt.Sprintf("%d automation runs", n), 20*time.Second, func() bool {
		m := getJSON(t, base+"/api/automation/runs")
		if m["attached"] != true {
			t.Fatalf("runner not attached: %v", m)
		}
		list, _ := m["runs"].([]any)
		runs = runs[:0]
		for _, r := range list {
			runs = append(runs, r.(map[string]any))
		}
		return len(runs) >= n
	})
	return runs
}

// TestServeAutomation: serve --automation runs the jobs inside the bridge;
// /api/automation/runs lists them with the failed action and why; the
// record the job sent is delivered; the reports are written.
func TestServeAutomation(t *testing.T) {
	config, reports := writeAutomation(t)
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--automation", config, "--automation-reports", reports)
	runs := waitRuns(t, base, 2)
	byJob := map[string]map[string]any{}
	for _, r := range runs {
		byJob[r["job"].(string)] = r
	}
	if r := byJob["send-education"]; r["status"] != "ok" || r["trigger"] != "onStartup" || r["started"] == nil {
		t.Errorf("send-education run %v", r)
	}
	if r := byJob["queue-must-be-negative"]; r["status"] != "failed" || !strings.Contains(fmt.Sprint(r["failed_action"]), "check_health") ||
		!strings.Contains(fmt.Sprint(r["reason"]), "pending_queue") {
		t.Errorf("failing run %v", r)
	}
	waitFor(t, "the job's record synced", 20*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 1
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(reports, "run_*.jsonl"))
	if len(files) == 0 {
		t.Errorf("no run report in %s", reports)
	}
	for _, f := range []string{"runner.log", "daily_log.txt"} {
		if fi, err := os.Stat(filepath.Join(reports, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestServeAutomationBadConfig: a config error stops serve with exit 2
// before it listens.
func TestServeAutomationBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte(`{"jobs":[{"name":"x","trigger":{"type":"hourly"},"actions":[]}]}`), 0o644)
	var stderr logtest.Buffer
	err := run(t.Context(), []string{"corebridge", "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--automation", path},
		func(string) string { return "" }, nil, &stderr, &stderr)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "trigger") {
		t.Fatalf("bad config: exit %d, %v", exitCode(err), err)
	}
}
