package automation

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReportLogsRotateBySize: runner.log and daily_log.txt past their
// size are renamed aside and started again; only the newest backups are
// kept, and every file stays owner-only.
func TestReportLogsRotateBySize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	rf := &reportFiles{dir: dir, keep: -1, maxAge: -1, maxSizeMB: 1, backups: 2}
	w := rf.logWriter()
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range 4*1024 + 10 { // a little over 4 MiB: rotated 4 times
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	rep := Report{Started: time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC), File: "run_20261208T100000Z.jsonl", Trigger: strings.Repeat("t", 2000)}
	for range 1200 { // ~2.4 MB of summaries: rotated twice
		if err := rf.summarize(rep); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range ents {
		name := e.Name()
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, past the 1 MiB it rotates at", name, fi.Size())
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
		switch {
		case name == runnerLog, name == dailyLogName:
			counts[name]++
		case strings.HasPrefix(name, "runner-") && strings.HasSuffix(name, ".log"):
			counts["runner backups"]++
		case strings.HasPrefix(name, "daily_log-") && strings.HasSuffix(name, ".txt"):
			counts["daily backups"]++
		default:
			t.Errorf("unexpected file %s", name)
		}
	}
	// lumberjack deletes backups past MaxBackups in the background.
	deadline := time.Now().Add(5 * time.Second)
	for counts["runner backups"] > 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		m, _ := fs.Glob(os.DirFS(dir), "runner-*.log")
		counts["runner backups"] = len(m)
	}
	if counts[runnerLog] != 1 || counts[dailyLogName] != 1 || counts["runner backups"] != 2 || counts["daily backups"] != 2 {
		t.Fatalf("files: %v; want runner.log and daily_log.txt with 2 backups each", counts)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("reports directory: %v %v, want 0700", err, fi.Mode().Perm())
	}
}
