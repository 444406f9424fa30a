package insight_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
	"corebridge/internal/store/storetest"
)

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %q is not JSON: %v", path, sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestLogFiles: core_sync.log gets one line per accepted record (data with
// LogData), flow.log one per delivery outcome, the metrics log a snapshot;
// all flushed by Close.
func TestLogFiles(t *testing.T) {
	dir := t.TempDir()
	st := storetest.NewMem()
	defer st.Close()
	paths := map[string]string{"core": filepath.Join(dir, "logs", "core_sync.log"), "flow": filepath.Join(dir, "insight", "flow.log"),
		"metrics": filepath.Join(dir, "logs", "metrics.jsonl")}
	hub, err := insight.New(insight.Config{Store: st, CoreSyncLog: paths["core"], FlowLog: paths["flow"], MetricsLog: paths["metrics"],
		LogData: true, MetricsInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The metrics log's snapshot is the health verdict: seven pending records.
	seven := make([]bridge.NewRecord, 7)
	for i := range seven {
		seven[i] = bridge.NewRecord{ID: fmt.Sprintf("p%d", i), Module: "edu", SessionID: "s", Data: json.RawMessage(`{}`), ReceivedAt: bridge.Now()}
	}
	if _, err := st.Append(t.Context(), seven); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- hub.Run(ctx) }()

	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	recs := []bridge.NewRecord{
		{ID: "r1", Module: "edu", SessionID: "s1", Data: json.RawMessage(`{"score":9}`), ReceivedAt: t0},
		{ID: "r2", Module: "edu", SessionID: "s1", Data: json.RawMessage(`{"score":9}`), ReceivedAt: t0},
	}
	hub.Accepted(recs, []bridge.Appended{{ID: "r1", SessionID: "s1", ReceivedAt: t0}, {ID: "r1", SessionID: "s1", ReceivedAt: t0, Duplicate: true}})
	a := bridge.Attempt{At: t0.Add(250 * time.Millisecond), Module: "edu", Outcome: bridge.AttemptPartial, HTTPStatus: 200, Latency: 40 * time.Millisecond}
	hub.Delivered(a,
		[]bridge.Record{{ID: "r1", Module: "edu", ReceivedAt: t0}},
		[]bridge.Record{{ID: "r3", Module: "edu", ReceivedAt: t0, Attempts: 11, LastError: "gave up"}},
		[]bridge.Record{{ID: "r4", Module: "edu", ReceivedAt: t0, Attempts: 1, LastError: "timeout"}})
	time.Sleep(100 * time.Millisecond) // a few metrics intervals
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := hub.Close(); err != nil {
		t.Fatal(err)
	}

	core := readLines(t, paths["core"])
	if len(core) != 1 {
		t.Fatalf("core_sync.log has %d lines, want 1 (the duplicate is not logged again): %v", len(core), core)
	}
	if l := core[0]; l["module"] != "edu" || l["session_id"] != "s1" || l["record_id"] != "r1" ||
		l["timestamp"] != "2026-03-01T10:00:00.000000Z" || l["data"].(map[string]any)["score"] != 9.0 {
		t.Errorf("core_sync line %v", l)
	}
	flow := readLines(t, paths["flow"])
	if len(flow) != 3 {
		t.Fatalf("flow.log has %d lines, want 3: %v", len(flow), flow)
	}
	wantFlow := []struct {
		id, status string
		latency    float64
		attempt    float64
	}{{"r1", "synced", 250, 1}, {"r4", "failed", 40, 2}, {"r3", "dead", 40, 12}}
	for i, w := range wantFlow {
		l := flow[i]
		if l["record_id"] != w.id || l["status"] != w.status || l["latency_ms"] != w.latency || l["attempt"] != w.attempt || l["module"] != "edu" || l["timestamp"] == "" {
			t.Errorf("flow line %d = %v, want %+v", i, l, w)
		}
	}
	snaps := readLines(t, paths["metrics"])
	if len(snaps) < 2 || snaps[0]["pending_queue"] != 7.0 {
		t.Errorf("metrics log: %d snapshots %v, want several with the health figures", len(snaps), snaps)
	}
}

// TestLogFileRotates keeps a bounded number of backups.
func TestLogFileRotates(t *testing.T) {
	dir := t.TempDir()
	l, err := insight.OpenLogFile(insight.LogFileConfig{Path: filepath.Join(dir, "x.log"), MaxSizeMB: 1, MaxBackups: 2, FlushEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	line := `{"pad":"` + strings.Repeat("x", 1000) + `"}` + "\n"
	for range 5000 { // ~5 MB: four rotations
		l.Append(func(b []byte) []byte { return append(b, line...) })
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// lumberjack removes old backups in the background.
		files, _ := filepath.Glob(filepath.Join(dir, "x*.log"))
		if len(files) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("files %v: want x.log and 2 backups", files)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fi, err := os.Stat(filepath.Join(dir, "x.log")); err != nil || fi.Size() > 1<<20 {
		t.Fatalf("x.log: %v, %v", fi, err)
	}
	// Rotation happens between whole lines, and no write was refused (a
	// write larger than the maximum size once lost whole buffers).
	files, _ := filepath.Glob(filepath.Join(dir, "x*.log"))
	for _, f := range files {
		// A backup is full to within one write (256 KiB) of 1 MiB.
		if n := len(readLines(t, f)); filepath.Base(f) != "x.log" && n < 750 {
			t.Errorf("%s holds %d lines, want 750-1,036", f, n)
		}
	}
}

// TestLogFileNeverBlocks: past its buffer bound a log file drops lines and
// says so, instead of making the caller wait for the disk.
func TestLogFileNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	l, err := insight.OpenLogFile(insight.LogFileConfig{Path: path, FlushEvery: time.Hour, MaxBuffer: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		l.Append(func(b []byte) []byte { return append(b, `{"n":"0123456789012345678901234567890123456789"}`+"\n"...) })
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 3 || !strings.Contains(lines[2]["warning"].(string), "8 lines dropped") {
		t.Fatalf("lines %v: want 2 kept and a warning that 8 were dropped", lines)
	}
}
