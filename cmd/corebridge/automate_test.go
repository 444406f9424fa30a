package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corebridge/internal/automation"
)

// automate runs `corebridge automate args…` through run() and returns
// what it printed and its error.
func automate(ctx context.Context, t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(ctx, append([]string{"corebridge", "automate", "--log-format", "json"}, args...),
		func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// readRun decodes the run file of a reports directory; there must be one.
func readRun(t *testing.T, dir string) []automation.JobResult {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "run_*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("%d run files in %s, want 1", len(files), dir)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var jobs []automation.JobResult
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var j automation.JobResult
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("run file line %q: %v", line, err)
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// recordIDs returns the record ids the bridge acknowledged to the
// send_core_update actions of a run, by module.
func recordIDs(t *testing.T, jobs []automation.JobResult) map[string][]string {
	t.Helper()
	ids := map[string][]string{}
	for _, j := range jobs {
		for _, a := range j.Actions {
			if a.Type != automation.ActionUpdate {
				continue
			}
			var req struct{ Module string }
			var resp struct {
				RecordID string `json:"record_id"`
			}
			b, _ := json.Marshal(a.Request.Body)
			json.Unmarshal(b, &req)
			b, _ = json.Marshal(a.Response.Body)
			if json.Unmarshal(b, &resp) != nil || resp.RecordID == "" {
				t.Fatalf("job %s: no record_id in the report's response %s", j.Job, b)
			}
			ids[req.Module] = append(ids[req.Module], resp.RecordID)
		}
	}
	return ids
}

// TestAutomateOnceShippedConfig: serve with its embedded Bucket, then
// `automate --once` with the shipped config: exit 0, the three reports,
// and every record it sent synced in the Bucket.
func TestAutomateOnceShippedConfig(t *testing.T) {
	t.Parallel()
	base, _ := startServe(t, "--data-dir", t.TempDir())
	reports := t.TempDir()
	out, logs, err := automate(context.Background(), t, "--once", "--config", "../../automation/config.json",
		"--api-url", base, "--reports-dir", reports)
	if err != nil {
		t.Fatalf("automate --once: %v\nstdout:\n%s\nlogs:\n%s", err, out, logs)
	}
	cfg, err := automation.Load("../../automation/config.json")
	if err != nil {
		t.Fatal(err)
	}
	jobs := readRun(t, reports)
	if len(jobs) != len(cfg.Jobs) {
		t.Fatalf("%d lines in the run file, want one per job (%d)", len(jobs), len(cfg.Jobs))
	}
	for i, j := range jobs {
		if j.Job != cfg.Jobs[i].Name || j.Status != automation.StatusOK || len(j.Actions) != len(cfg.Jobs[i].Actions) {
			t.Errorf("line %d: job %q status %s with %d actions (%s)", i, j.Job, j.Status, len(j.Actions), j.Reason)
		}
		for _, a := range j.Actions {
			if a.Request.URL == "" || a.Response == nil || a.Response.StatusCode != 200 || len(a.Attempts) != 1 || a.DurationMs <= 0 {
				t.Errorf("job %s action %d: request %+v response %+v attempts %d", j.Job, a.Index, a.Request, a.Response, len(a.Attempts))
			}
		}
		if !strings.Contains(out, "["+j.Job+"] ok: ") {
			t.Errorf("stdout lacks the line of job %s:\n%s", j.Job, out)
		}
	}
	daily, _ := os.ReadFile(filepath.Join(reports, "daily_log.txt"))
	if lines := strings.Split(strings.TrimSpace(string(daily)), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], `trigger="once" jobs=6 ok=6 failed=0 skipped=0`) {
		t.Errorf("daily_log.txt:\n%s", daily)
	}
	runnerLog, _ := os.ReadFile(filepath.Join(reports, "runner.log"))
	if n := strings.Count(string(runnerLog), `msg="job finished"`); n != len(cfg.Jobs) {
		t.Errorf("runner.log has %d job-finished lines, want %d:\n%s", n, len(cfg.Jobs), runnerLog)
	}

	// Every record the run sent reaches the Bucket.
	ids := recordIDs(t, jobs)
	if len(ids) != 4 {
		t.Fatalf("records sent for %d modules, want the 4 of the shipped config: %v", len(ids), ids)
	}
	waitFor(t, "the run's records to sync", 30*time.Second, func() bool {
		counts := getJSON(t, base+"/bucket/status")["module_sync_counts"].(map[string]any)
		for m, want := range ids {
			if num(counts, m) != len(want) {
				return false
			}
		}
		return true
	})
	for m, list := range ids {
		for _, id := range list {
			if rec := getJSON(t, base+"/api/records/"+id); rec["state"] != "synced" || rec["module"] != m {
				t.Errorf("record %s: state %v module %v, want synced %s", id, rec["state"], rec["module"], m)
			}
		}
	}
}

// TestAutomatePrototypeConfig: the prototype's own four-job config runs
// unchanged, once and in watch mode.
func TestAutomatePrototypeConfig(t *testing.T) {
	t.Parallel()
	base, _ := startServe(t, "--data-dir", t.TempDir())
	reports := t.TempDir()
	const config = "testdata/prototype_automation.json"
	out, logs, err := automate(context.Background(), t, "--once", "--config", config, "--api-url", base, "--reports-dir", reports)
	if err != nil {
		t.Fatalf("automate --once: %v\n%s\n%s", err, out, logs)
	}
	jobs := readRun(t, reports)
	if len(jobs) != 4 || len(recordIDs(t, jobs)) != 3 {
		t.Fatalf("run: %d jobs, updates for %v; want 4 jobs and updates for 3 modules", len(jobs), recordIDs(t, jobs))
	}

	// Watch: the onStartup job runs at once; the interval jobs wait.
	watchDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var watchOut string
	go func() {
		out, _, err := automate(ctx, t, "--watch", "--config", config, "--api-url", base, "--reports-dir", watchDir)
		watchOut = out
		done <- err
	}()
	waitFor(t, "the startup job's report", 20*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(watchDir, "daily_log.txt"))
		return len(b) > 0
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("automate --watch after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("automate --watch did not stop")
	}
	// It said when each job is next due.
	for _, want := range []string{"watching 4 jobs; next due:", "[Initial Sync] at start only", "[Robotics Update] 2", "(every 30m0s)"} {
		if !strings.Contains(watchOut, want) {
			t.Errorf("automate --watch printed no %q:\n%s", want, watchOut)
		}
	}
	started := readRun(t, watchDir)
	if len(started) != 1 || started[0].Job != "Initial Sync" || started[0].Trigger != "onStartup" || started[0].Status != automation.StatusOK {
		t.Errorf("watch start ran %+v, want only the onStartup job, ok", started)
	}
}

// TestAutomateEveryActionAgainstServe runs the extension actions against
// the real bridge, and a failing assertion fails the run with exit 1.
func TestAutomateEveryActionAgainstServe(t *testing.T) {
	t.Parallel()
	base, _ := startServe(t, "--data-dir", t.TempDir())
	dir := t.TempDir()
	config := filepath.Join(dir, "config.json")
	os.WriteFile(config, []byte(`{"jobs":[
	  {"name":"batch","trigger":{"type":"cron","value":"*/5 * * * *"},"actions":[
	    {"type":"send_batch","data":{"updates":[{"module":"education","data":{"n":1}},{"module":"finance","data":{"n":2}}]}},
	    {"type":"replay_dead_letters","data":{"all":true}},
	    {"type":"check_health","data":{"assert":["status != \"down\"","pending_queue >= 0"]}},
	    {"type":"http_request","data":{"url":"/core/health","expectStatus":200}},
	    {"type":"http_request","data":{"method":"POST","url":"/core/update","body":{"module":"robotics","data":{"x":1}}}},
	    {"type":"http_request","data":{"url":"/api/records/nope","expectStatus":[404]}}]},
	  {"name":"strict","trigger":{"type":"intervalSeconds","value":30},"actions":[
	    {"type":"check_health","data":{"assert":"pending_queue < 0"}}]}]}`), 0o644)
	out, _, err := automate(context.Background(), t, "--once", "--config", config, "--api-url", base, "--reports-dir", filepath.Join(dir, "reports"))
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "1 of 2 jobs did not succeed") {
		t.Fatalf("automate = %v (exit %d), want exit 1 for the failed job", err, exitCode(err))
	}
	if !strings.Contains(out, "[batch] ok: 6 actions") ||
		!strings.Contains(out, `[strict] failed at actions[0] check_health: assertion "pending_queue < 0" failed: pending_queue is `) {
		t.Errorf("stdout:\n%s", out)
	}
	waitFor(t, "the batch and the posted update to sync", 30*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 3
	})
}

func TestAutomateUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"jobs":[{"name":"nightly","trigger":{"type":"daily","value":1},"actions":[{"type":"get_bucket_status"}]}]}`), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown trigger type", []string{"--once", "--config", bad}, `job "nightly": jobs[0].trigger.type: unknown trigger type "daily"`},
		{"missing config", []string{"--once", "--config", filepath.Join(dir, "none.json")}, "none.json"},
		{"neither mode", []string{"--config", bad}, "exactly one of --once or --watch"},
		{"both modes", []string{"--once", "--watch"}, "exactly one of --once or --watch"},
		{"bad interval", []string{"--watch", "--interval", "soon"}, "not minutes nor a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := automate(context.Background(), t, append(tt.args, "--reports-dir", filepath.Join(dir, "reports"))...)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("automate = %v (exit %d), want exit 2 naming %q", err, exitCode(err), tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "reports")); err == nil {
		t.Error("a usage error wrote reports")
	}
}

func TestIntervalFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{"120": 2 * time.Hour, "0.5": 30 * time.Second, "90s": 90 * time.Second, "2h": 2 * time.Hour} {
		var m minutes
		if err := m.Set(in); err != nil || time.Duration(m) != want {
			t.Errorf("--interval %s = %v, %v; want %v", in, time.Duration(m), err, want)
		}
	}
	for _, in := range []string{"0", "-5", "10ms", "x"} {
		var m minutes
		if err := m.Set(in); err == nil {
			t.Errorf("--interval %s accepted", in)
		}
	}
}
