package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func mockRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"corebridge", "mock"}, args...),
		func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), err
}

// TestMockRoundsAgainstServe: the mock Core modules send rounds of updates
// to the real bridge, print one line per update, and every update reaches
// the Bucket.
func TestMockRoundsAgainstServe(t *testing.T) {
	t.Parallel()
	base, _ := startServe(t, "--data-dir", t.TempDir())
	out, err := mockRun(t, "--api-url", base, "--rounds", "2", "--interval", "10ms")
	if err != nil {
		t.Fatalf("mock: %v\n%s", err, out)
	}
	line := regexp.MustCompile(`^\[(education|finance|creative|robotics)\] status=success session_id=mock-\S+ record_id=[0-9a-f-]{36}$`)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 2 rounds × 4 modules:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Errorf("line %q does not match %s", l, line)
		}
	}
	waitFor(t, "the mock's updates to sync", 30*time.Second, func() bool {
		counts := getJSON(t, base+"/bucket/status")["module_sync_counts"].(map[string]any)
		for _, m := range modules4 {
			if num(counts, m) != 2 {
				return false
			}
		}
		return true
	})

	// --modules picks who sends.
	out, err = mockRun(t, "--api-url", base, "--rounds", "1", "--modules", "finance, robotics")
	if err != nil || strings.Count(out, "\n") != 2 || !strings.HasPrefix(out, "[finance] status=success") {
		t.Errorf("mock --modules finance,robotics: %v\n%s", err, out)
	}
}

// TestMockLoadAgainstServe: the load mode drives the same bridge through
// the same client and reports what it measured.
func TestMockLoadAgainstServe(t *testing.T) {
	t.Parallel()
	base, _ := startServe(t, "--data-dir", t.TempDir())
	out, err := mockRun(t, "--api-url", base, "--load", "--connections", "4", "--requests", "200", "--duration", "0", "--json")
	if err != nil {
		t.Fatalf("mock --load: %v\n%s", err, out)
	}
	var res struct {
		Requests, OK, Errors int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Requests != 200 || res.OK != 200 || res.Errors != 0 {
		t.Fatalf("load result %s (%v), want 200 requests, all ok", out, err)
	}
	waitFor(t, "the load's records to sync", 30*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 200
	})
}

func TestMockUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--modules", "bad name"},
		{"--modules", " , "},
		{"--rounds", "-1"},
		{"--interval", "0s"},
		{"--load", "--connections", "0", "--requests", "1"},
	} {
		if _, err := mockRun(t, append(args, "--api-url", "http://127.0.0.1:1")...); err == nil || exitCode(err) != 2 {
			t.Errorf("mock %v = %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}

// TestMockLoadDeadURL: a load run where every request fails (nothing
// listens on port 1) exits non-zero, and neither its summary nor its JSON
// claims a rate of successful requests it did not have.
func TestMockLoadDeadURL(t *testing.T) {
	t.Parallel()
	out, err := mockRun(t, "--api-url", "http://127.0.0.1:1", "--load", "--connections", "2", "--duration", "300ms")
	if err == nil || exitCode(err) != 1 {
		t.Errorf("mock --load against a dead URL: err %v, want an error (exit 1)\n%s", err, out)
	} else if !strings.Contains(err.Error(), "--max-error-pct") {
		t.Errorf("message %q does not name --max-error-pct", err)
	}
	m := regexp.MustCompile(`(?m)^requests: .*?= ([0-9.]+) req/s`).FindStringSubmatch(out)
	if m == nil || m[1] != "0.0" || !strings.Contains(out, "ok 0") {
		t.Errorf("summary claims a rate other than 0.0 req/s with no request ok:\n%s", out)
	}

	out, err = mockRun(t, "--api-url", "http://127.0.0.1:1", "--load", "--connections", "2", "--duration", "300ms", "--json")
	if err == nil {
		t.Errorf("mock --load --json against a dead URL exited 0")
	}
	var res struct {
		Requests, OK, Errors int
		OKRPS                *float64 `json:"ok_rps"`
	}
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil || res.Requests == 0 || res.OK != 0 || res.Errors != res.Requests ||
		res.OKRPS == nil || *res.OKRPS != 0 {
		t.Errorf("load result %s (%v), want requests > 0, all errors, ok_rps 0", out, jerr)
	}
}
