package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"corebridge/internal/drill"
	"corebridge/internal/store/postgres/pgtest"
)

// buildDropOneBinary compiles the deliberately broken corebridge (build tag
// corebridge_drop_one: the 100th record is acknowledged but not stored)
// once per test binary run.
var buildDropOneBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "corebridge-bin-drop-one-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "corebridge")
	out, err := exec.Command("go", "build", "-tags", "corebridge_drop_one", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build -tags corebridge_drop_one: %v\n%s", err, out)
	}
	return bin, nil
})

// runDrillProcess runs `bin drill --report json` with args in a scratch
// directory of the test's, and returns the report, the exit code and
// what it wrote to stderr. It also checks that the drill left nothing
// behind: no process of its, no mount, no scratch directory.
func runDrillProcess(t *testing.T, bin string, env []string, args ...string) (drill.Report, int, string) {
	t.Helper()
	scratch := filepath.Join(t.TempDir(), "scratch")
	cmd := exec.Command(bin, append([]string{"drill", "--report", "json", "--dir", scratch}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep drill.Report
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("drill (exit %d) printed no JSON report: %v\nstdout:\n%s\nstderr:\n%s", code, jerr, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(scratch); !os.IsNotExist(err) {
		t.Errorf("the scratch directory %s is still there (%v)", scratch, err)
	}
	if b, err := os.ReadFile("/proc/mounts"); err == nil && strings.Contains(string(b), scratch) {
		t.Errorf("a mount under %s is left:\n%s", scratch, b)
	}
	if procs, _ := filepath.Glob("/proc/[0-9]*/cmdline"); len(procs) > 0 {
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(scratch)) {
				t.Errorf("a process of the drill is still running: %s: %q", p, b)
			}
		}
	}
	return rep, code, stderr.String()
}

// TestDrillPasses: the real binary, a short drill: exit 0, nothing lost,
// duplicated or out of order, and every fault listed with its recovery
// time (or why it was skipped).
func TestDrillPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs a 20 s drill")
	}
	t.Parallel()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	// A bridge of the operator's, to which the drill publishes its report.
	home, _ := startServe(t, "--data-dir", t.TempDir())
	rep, code, stderr := runDrillProcess(t, bin, nil, "--duration", "20s", "--publish", home)
	if code != 0 || !rep.Passed {
		t.Fatalf("drill exit %d, passed %v, problems %v\nstderr:\n%s", code, rep.Passed, rep.Problems, stderr)
	}
	if pub, _ := getJSON(t, home+"/api/drill")["report"].(map[string]any); pub["run"] != rep.Run || pub["passed"] != true {
		t.Errorf("the published report: %v, want run %s passed", pub, rep.Run)
	}
	if !rep.Checked || !rep.OrderChecked || rep.Acknowledged < 500 || rep.Held < rep.Acknowledged || rep.LostCount+rep.DuplicatedCount+rep.OrderCount != 0 {
		t.Errorf("report: checked %v/%v, %d acknowledged, %d held, lost %d, duplicated %d, out of order %d",
			rep.Checked, rep.OrderChecked, rep.Acknowledged, rep.Held, rep.LostCount, rep.DuplicatedCount, rep.OrderCount)
	}
	if len(rep.Modules) != 4 {
		t.Errorf("%d modules in the report, want 4", len(rep.Modules))
	}
	// The last step reconciled the bridge with the Bucket by fingerprints.
	if rc := rep.Reconciliation; rc == nil || !rc.Ran || rc.Error != "" || rc.Missing+rc.Unexpected+rc.Mismatched != 0 ||
		rc.SyncedHere < int64(rep.Acknowledged) || rc.HeldThere != rc.SyncedHere || rc.RoundTrips == 0 {
		t.Errorf("reconciliation in the drill: %+v", rc)
	}
	var names []string
	for _, f := range rep.Faults {
		names = append(names, f.Name)
		switch {
		case f.Skipped:
			if f.SkipReason == "" {
				t.Errorf("fault %q skipped without a reason", f.Name)
			}
			if f.Name == "disk full" && os.Getenv("COREBRIDGE_REQUIRE_TMPFS") == "1" {
				t.Errorf("the full-disk fault was skipped: %s", f.SkipReason)
			}
		case !f.Recovered || f.RecoveryMs <= 0 || f.LastedMs <= 0:
			t.Errorf("fault %q: recovered %v in %d ms (lasted %d ms)", f.Name, f.Recovered, f.RecoveryMs, f.LastedMs)
		}
	}
	want := []string{"kill-9 bridge", "bucket stopped", "bucket flaky", "bucket slow", "disk full"}
	if !slices.Equal(names, want) {
		t.Errorf("faults %v, want %v", names, want)
	}
	if rep.ConnErrors == 0 {
		t.Errorf("no producer saw the bridge go away: the kill -9 did not happen under load")
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("\n%s", text.String())
}

// TestDrillCatchesADroppedRecord: a build that acknowledges its 100th
// record without storing it must fail the drill (exit 1), with that
// record's id named as lost, and nothing else named.
func TestDrillCatchesADroppedRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs a 15 s drill")
	}
	t.Parallel()
	bin, err := buildDropOneBinary()
	if err != nil {
		t.Fatal(err)
	}
	oracle := filepath.Join(t.TempDir(), "dropped")
	rep, code, stderr := runDrillProcess(t, bin, []string{"CB_DROP_ONE_FILE=" + oracle}, "--duration", "15s")
	b, err := os.ReadFile(oracle)
	if err != nil {
		t.Fatalf("the broken build dropped nothing (%v)\nstderr:\n%s", err, stderr)
	}
	dropped := strings.Fields(string(b))
	if code != 1 || rep.Passed {
		t.Fatalf("drill exit %d, passed %v with records dropped %v; want exit 1\nstderr:\n%s", code, rep.Passed, dropped, stderr)
	}
	var lost []string
	for _, l := range rep.Lost {
		lost = append(lost, l.ID)
		if !slices.Contains(dropped, l.ID) {
			t.Errorf("the drill names %s (module %s, seq %d) lost, but the broken build did not drop it (dropped %v)", l.ID, l.Module, l.Seq, dropped)
		}
	}
	// The first process dropped its 100th record long before any fault;
	// its producer was answered 200 for it, so the drill must name it.
	if !slices.Contains(lost, dropped[0]) {
		t.Fatalf("the dropped record %s is not named lost (lost %v)\nstderr:\n%s", dropped[0], lost, stderr)
	}
	if !strings.Contains(stderr, dropped[0]) || !strings.Contains(stderr, "LOST") {
		t.Errorf("the drill's error does not name the lost record %s:\n%s", dropped[0], stderr)
	}
	if rep.LostCount != len(rep.Lost) || rep.DuplicatedCount != 0 || rep.OrderCount != 0 {
		t.Errorf("lost %d (%d listed), duplicated %d, out of order %d", rep.LostCount, len(rep.Lost), rep.DuplicatedCount, rep.OrderCount)
	}
	t.Logf("dropped %v; the drill named lost %v", dropped, lost)
}

// TestDrillReplicasOnPostgres: three serve replicas on one PostgreSQL
// database (a fresh one), the kill -9 hitting one of them; nothing lost,
// duplicated or reordered, and the final reconciliation (through the
// PostgreSQL store) finds the Bucket whole. No full-disk fault here.
func TestDrillReplicasOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs a 15 s drill with three replicas")
	}
	db := pgtest.FreshDB(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	rep, code, stderr := runDrillProcess(t, bin, nil, "--duration", "15s", "--replicas", "3", "--store", db)
	if code != 0 || !rep.Passed || rep.Replicas != 3 || !strings.HasPrefix(rep.Store, "postgres") {
		t.Fatalf("drill exit %d, passed %v, replicas %d, store %q, problems %v\nstderr:\n%s", code, rep.Passed, rep.Replicas, rep.Store, rep.Problems, stderr)
	}
	if rep.LostCount+rep.DuplicatedCount+rep.OrderCount != 0 || rep.Acknowledged < 200 {
		t.Errorf("report: %d acknowledged, lost %d, duplicated %d, out of order %d", rep.Acknowledged, rep.LostCount, rep.DuplicatedCount, rep.OrderCount)
	}
	if rc := rep.Reconciliation; rc == nil || !rc.Ran || rc.Missing+rc.Unexpected+rc.Mismatched != 0 || rc.SyncedHere < int64(rep.Acknowledged) {
		t.Errorf("reconciliation: %+v", rc)
	}
	if strings.Contains(stderr, db) {
		t.Errorf("the drill printed the database URL with its credentials")
	}
}
