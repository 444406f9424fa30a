package automation

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func TestRunOnceWritesReports(t *testing.T) {
	f := newFakeBridge(t)
	dir := filepath.Join(t.TempDir(), "reports") // made on first use
	cfg := mustParse(t, `{"jobs":[
	  {"name":"sync","trigger":{"type":"intervalMinutes","value":5},"actions":[
	    {"type":"send_core_update","data":{"module":"education","data":{"score":91}}},
	    {"type":"get_bucket_status"}]},
	  {"name":"health","actions":[{"type":"check_health","data":{"assert":"status == \"down\""}}]}]}`)
	r := New(cfg, Options{APIURL: f.URL, ReportsDir: dir, Clock: newFakeClock(t0)})
	rep, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "run_20261129T130000Z.jsonl"); rep.File != want {
		t.Errorf("run file %q, want %q", rep.File, want)
	}
	lines := readLines(t, rep.File)
	if len(lines) != 2 {
		t.Fatalf("%d lines in the run file, want one per job:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var sync, health JobResult
	if err := json.Unmarshal([]byte(lines[0]), &sync); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &health); err != nil {
		t.Fatal(err)
	}
	if sync.Job != "sync" || sync.Status != StatusOK || sync.Trigger != "once" || len(sync.Actions) != 2 || sync.Report != "run_20261129T130000Z.jsonl" {
		t.Errorf("sync line: %s", lines[0])
	}
	up := sync.Actions[0]
	if up.Request.Method != "POST" || up.Request.URL != "/core/update" || up.Request.Headers["Idempotency-Key"] == "" ||
		!strings.Contains(string(mustJSON(t, up.Request.Body)), `"score":91`) {
		t.Errorf("update request %+v", up.Request)
	}
	if up.Response == nil || up.Response.StatusCode != 200 || !strings.Contains(string(mustJSON(t, up.Response.Body)), `"record_id":"rec-1"`) {
		t.Errorf("update response %+v", up.Response)
	}
	if len(up.Attempts) != 1 || up.Attempts[0].StatusCode != 200 {
		t.Errorf("update attempts %+v", up.Attempts)
	}
	if st := sync.Actions[1]; !strings.Contains(string(mustJSON(t, st.Response.Body)), `"dead_count":0`) {
		t.Errorf("bucket status response lacks the extra fields: %s", mustJSON(t, st.Response.Body))
	}
	if health.Status != StatusFailed || health.FailedAction != "actions[0] check_health" || !strings.Contains(health.Reason, `status is "ok"`) {
		t.Errorf("health line: %s", lines[1])
	}

	daily := readLines(t, filepath.Join(dir, dailyLogName))
	want := `2026-11-29T13:00:00Z run_20261129T130000Z.jsonl trigger="once" jobs=2 ok=1 failed=1 skipped=0 duration=0s failed_jobs="health"`
	if len(daily) != 1 || daily[0] != want {
		t.Errorf("daily log %q, want %q", daily, want)
	}
	log, _ := os.ReadFile(filepath.Join(dir, runnerLog))
	for _, s := range []string{`msg="job started" component=automation job=sync`, `msg="job finished" component=automation job=health status=failed`, `action="actions[0] check_health"`} {
		if !strings.Contains(string(log), s) {
			t.Errorf("runner.log lacks %q:\n%s", s, log)
		}
	}

	// A second run in the same second gets its own file.
	rep2, err := r.RunOnce(context.Background())
	if err != nil || filepath.Base(rep2.File) != "run_20261129T130000Z_2.jsonl" {
		t.Errorf("second run file %q, %v", rep2.File, err)
	}
	if n := len(readLines(t, filepath.Join(dir, dailyLogName))); n != 2 {
		t.Errorf("daily log has %d lines after two runs", n)
	}
	if runs := r.Runs(); len(runs) != 4 || runs[0].Job != "health" || runs[0].Report != "run_20261129T130000Z_2.jsonl" {
		t.Errorf("history %+v, want 4 runs, newest first", runs)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReportsArePruned(t *testing.T) {
	f := newFakeBridge(t)
	dir := t.TempDir()
	old := []string{
		"run_20261020T120000Z.jsonl", // 40 days old: past the age limit
		"run_20261128T090000Z.jsonl",
		"run_20261128T100000Z.jsonl",
		"run_20261129T110000Z.jsonl",
		"run_20261129T120000Z.jsonl",
		"run_notatime.jsonl", // not a report name: left alone
		"notes.txt",
	}
	for _, n := range old {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := mustParse(t, `{"jobs":[{"name":"s","actions":[{"type":"get_bucket_status"}]}]}`)
	r := New(cfg, Options{APIURL: f.URL, ReportsDir: dir, Clock: newFakeClock(t0), KeepReports: 3, MaxReportAge: 30 * 24 * time.Hour})
	if _, err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"daily_log.txt", "notes.txt", "run_20261129T110000Z.jsonl", "run_20261129T120000Z.jsonl",
		"run_20261129T130000Z.jsonl", "run_notatime.jsonl", "runner.log", "state.json"}
	if !slices.Equal(names, want) {
		t.Errorf("reports dir holds\n%q\nwant\n%q", names, want)
	}

	// By age alone: keep all by count, a day by age. At 12:00 the next
	// day, 11:00 is past a day old; 12:00 is exactly a day old and stays.
	r = New(cfg, Options{APIURL: f.URL, ReportsDir: dir, Clock: newFakeClock(t0.Add(23 * time.Hour)), KeepReports: -1, MaxReportAge: 24 * time.Hour})
	if _, err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "run_2*.jsonl"))
	for i := range runs {
		runs[i] = filepath.Base(runs[i])
	}
	if want := []string{"run_20261129T120000Z.jsonl", "run_20261129T130000Z.jsonl", "run_20261130T120000Z.jsonl"}; !slices.Equal(runs, want) {
		t.Errorf("after pruning by age: %q, want %q", runs, want)
	}
}

func TestRunOnceRecordsStateForCatchUp(t *testing.T) {
	f := newFakeBridge(t)
	dir := t.TempDir()
	cfg := mustParse(t, `{"jobs":[{"name":"s","actions":[{"type":"get_bucket_status"}]}]}`)
	if _, err := New(cfg, Options{APIURL: f.URL, ReportsDir: dir, Clock: newFakeClock(t0)}).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFileName))
	if err != nil || !strings.Contains(string(b), `"s": {`) || !strings.Contains(string(b), `"last_run": "2026-11-29T13:00:00Z"`) {
		t.Errorf("state.json = %s, %v", b, err)
	}
}
