package main

import (
	"context"
	"corebridge/internal/logtest"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeEndToEnd starts the real program and uses the prototype's API
// over HTTP the way its clients do.
func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, "--data-dir", dir)

	code, out := postJSON(t, base+"/core/update", `{"module":"education","data":{"score":91},"session_id":"s-1"}`)
	if code != 200 || out["status"] != "success" || out["session_id"] != "s-1" ||
		out["message"] != "Data received and logged for module education" || out["record_id"] == "" {
		t.Fatalf("update: %d %v", code, out)
	}
	if ts, _ := out["timestamp"].(string); !strings.HasSuffix(ts, "Z") {
		t.Fatalf("timestamp %q is not UTC with Z", ts)
	}
	code, bad := postJSON(t, base+"/core/update", `{"module":"","data":{}}`)
	if code != 422 || bad["detail"] == nil {
		t.Fatalf("invalid update: %d %v", code, bad)
	}
	h := getJSON(t, base+"/core/health")
	if h["status"] != "ok" || h["received_total"].(float64) != 1 || h["bucket_url"] == "" {
		t.Fatalf("health: %v", h)
	}
	waitFor(t, "the record to sync to the embedded bucket", 10*time.Second, func() bool {
		st := getJSON(t, base+"/bucket/status")
		return st["total_sync_count"].(float64) == 1 && st["last_sync_time"] != ""
	})
	resp, err := http.Get(base + "/openapi.json")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("openapi: %v %v", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "/core/update") {
		t.Fatalf("openapi.json does not describe /core/update: %.200s", body)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v on shutdown", err)
	}
}

// TestServeRestartKeepsRecords: acknowledged records are there after a
// graceful restart, and a repeat is recognised as the same record.
func TestServeRestartKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, "--data-dir", dir)
	ids := map[string]string{}
	for i := range 50 {
		body := fmt.Sprintf(`{"module":"finance","data":{"n":%d},"session_id":"r-%d"}`, i, i)
		code, out := postJSON(t, base+"/core/update", body)
		if code != 200 {
			t.Fatalf("post %d: %d %v", i, code, out)
		}
		ids[body] = out["record_id"].(string)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	base, _ = startServe(t, "--data-dir", dir)
	if h := getJSON(t, base+"/core/health"); h["received_total"].(float64) != 50 {
		t.Fatalf("after restart: %v", h)
	}
	for body, id := range ids {
		code, out := postJSON(t, base+"/core/update", body)
		if code != 200 || out["record_id"] != id || out["duplicate"] != true {
			t.Fatalf("repeat after restart: %d %v, want record_id %s duplicate", code, out, id)
		}
	}
	if h := getJSON(t, base+"/core/health"); h["received_total"].(float64) != 50 {
		t.Fatalf("repeats were stored again: %v", h)
	}
}

// TestRunUsage: unknown commands and bad flags are usage errors (exit 2),
// --help lists flags with their environment variables (on stdout), and the
// environment sets flags.
func TestRunUsage(t *testing.T) {
	noenv := func(string) string { return "" }
	if err := run(context.Background(), []string{"corebridge", "nope"}, noenv, nil, io.Discard, io.Discard); exitCode(err) != 2 {
		t.Fatalf("unknown command: %v (exit %d)", err, exitCode(err))
	}
	if err := run(context.Background(), []string{"corebridge", "serve", "--bogus"}, noenv, nil, io.Discard, io.Discard); exitCode(err) != 2 {
		t.Fatalf("bad flag: %v", err)
	}
	for _, v := range []string{"-1", "101", "NaN"} {
		err := run(context.Background(), []string{"corebridge", "serve", "--data-dir", t.TempDir(), "--degraded-success-pct", v}, noenv, nil, io.Discard, io.Discard)
		if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "--degraded-success-pct") {
			t.Errorf("--degraded-success-pct %s: %v (exit %d), want a usage error naming the flag", v, err, exitCode(err))
		}
	}
	var help logtest.Buffer
	if err := run(context.Background(), []string{"corebridge", "serve", "--help"}, noenv, nil, &help, io.Discard); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"--addr", "COREBRIDGE_ADDR", "--bucket-url", "COREBRIDGE_BUCKET_URL", "--data-dir", "COREBRIDGE_DATA_DIR", "--max-body", "--max-pending",
		"--degraded-success-pct", "COREBRIDGE_DEGRADED_SUCCESS_PCT"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("serve --help does not mention %s:\n%s", want, help.String())
		}
	}
	help = logtest.Buffer{}
	if err := run(context.Background(), []string{"corebridge", "bucket", "--help"}, noenv, nil, &help, io.Discard); err != nil || !strings.Contains(help.String(), "COREBRIDGE_BUCKET_ADDR") {
		t.Errorf("bucket --help must name COREBRIDGE_BUCKET_ADDR for --addr (%v):\n%s", err, help.String())
	}
	var out logtest.Buffer
	if err := run(context.Background(), []string{"corebridge", "version"}, noenv, nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "corebridge ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	getenv := func(k string) string {
		if k == "COREBRIDGE_LOG_FORMAT" {
			return "yaml"
		}
		return ""
	}
	err := run(context.Background(), []string{"corebridge", "serve", "--data-dir", t.TempDir()}, getenv, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "yaml") {
		t.Fatalf("COREBRIDGE_LOG_FORMAT=yaml was not applied: %v", err)
	}
}

// A --min-free-disk that does not parse is a usage error (exit 2) naming
// the flag; the environment variable is read too.
func TestMinFreeDiskFlag(t *testing.T) {
	for _, bad := range []string{"lots", "-1GiB", "150%"} {
		err := run(context.Background(), []string{"corebridge", "serve", "--data-dir", t.TempDir(), "--min-free-disk", bad},
			func(string) string { return "" }, strings.NewReader(""), &logtest.Buffer{}, &logtest.Buffer{})
		if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "min-free-disk") {
			t.Errorf("--min-free-disk %s: %v (exit %d), want exit 2 naming the flag", bad, err, exitCode(err))
		}
	}
	env := func(k string) string {
		if k == "COREBRIDGE_MIN_FREE_DISK" {
			return "nonsense"
		}
		return ""
	}
	err := run(context.Background(), []string{"corebridge", "serve", "--data-dir", t.TempDir()}, env, strings.NewReader(""), &logtest.Buffer{}, &logtest.Buffer{})
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "COREBRIDGE_MIN_FREE_DISK") {
		t.Errorf("COREBRIDGE_MIN_FREE_DISK=nonsense: %v (exit %d), want exit 2 naming the flag", err, exitCode(err))
	}
}

// --dedupe-memory below its floor, or not a size, is a usage error (exit
// 2) naming the flag; a valid one starts serve, which logs where its
// dedupe keys are.
func TestDedupeMemoryFlag(t *testing.T) {
	for _, bad := range []string{"1MiB", "lots", "0"} {
		err := run(context.Background(), []string{"corebridge", "serve", "--data-dir", t.TempDir(), "--dedupe-memory", bad},
			func(string) string { return "" }, strings.NewReader(""), &logtest.Buffer{}, &logtest.Buffer{})
		if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "dedupe-memory") {
			t.Errorf("--dedupe-memory %s: %v (exit %d), want exit 2 naming the flag", bad, err, exitCode(err))
		}
	}
	_, logs, stop := startServeLogs(t, "--data-dir", t.TempDir(), "--dedupe-memory", "16MiB")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"dedupe_keys_in_memory":0,"dedupe_runs":0`) {
		t.Fatalf("serve did not log its dedupe index at start:\n%s", logs.String())
	}
}
