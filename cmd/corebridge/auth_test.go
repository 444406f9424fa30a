package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corebridge/internal/auth"
	"corebridge/internal/logtest"
)

// testSecrets are the secrets of writeAuthFile's tokens, by name.
var testSecrets = map[string]string{
	"producer-edu": "cbt_test_producer_edu_0123456789abcdef",
	"producer-any": "cbt_test_producer_any_0123456789abcdef",
	"viewer":       "cbt_test_viewer_0123456789abcdef",
	"operator":     "cbt_test_operator_0123456789abcdef",
}

// writeAuthFile writes an auth file with testSecrets' tokens (their hashes
// only) and returns its path.
func writeAuthFile(t *testing.T, skip ...string) string {
	t.Helper()
	roles := map[string]string{"producer-edu": "producer", "producer-any": "producer", "viewer": "viewer", "operator": "operator"}
	modules := map[string]string{"producer-edu": `, "modules": ["education"]`, "producer-any": `, "modules": ["*"]`}
	var b strings.Builder
	b.WriteString("tokens:\n")
	for _, name := range []string{"producer-edu", "producer-any", "viewer", "operator"} {
		if strings.Contains(strings.Join(skip, ","), name) {
			continue
		}
		b.WriteString(`  - {"name": "` + name + `", "role": "` + roles[name] + `"` + modules[name] + `, "hash": "` + auth.HashSecret(testSecrets[name]) + `"}` + "\n")
	}
	path := filepath.Join(t.TempDir(), "auth.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// call makes a request with an optional bearer token and returns the status.
func call(t *testing.T, method, url, token, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// serve on a non-loopback address without an auth file refuses to start,
// with exit status 2 and a message saying what to do; --insecure-no-auth
// overrides it, loudly.
func TestServeRefusesExposureWithoutAuth(t *testing.T) {
	var stderr strings.Builder
	err := run(t.Context(), []string{"corebridge", "serve", "--addr", "0.0.0.0:0", "--data-dir", t.TempDir(), "--log-format", "json"},
		func(string) string { return "" }, strings.NewReader(""), io.Discard, &stderr)
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("serve on 0.0.0.0 without --auth-file: %v (exit %d), want a usage error (exit 2)", err, exitCode(err))
	}
	for _, want := range []string{"--auth-file", "corebridge token new"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %s", err, want)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &logtest.Buffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"corebridge", "serve", "--addr", "0.0.0.0:0", "--data-dir", t.TempDir(), "--log-format", "json",
			"--insecure-no-auth"}, insightLogFlags(t)...), func(string) string { return "" }, strings.NewReader(""), io.Discard, logs)
	}()
	waitListening(t, logs, errc)
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"INSECURE`) {
		t.Errorf("--insecure-no-auth started without a WARN saying so:\n%s", logs)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// With an auth file, serve wants a token for all but the open routes, a
// producer sends only its modules, and a token taken out of the file stops
// working without a restart.
func TestServeWithAuthFile(t *testing.T) {
	path := writeAuthFile(t)
	base, logs, _ := startServeLogs(t, "--data-dir", t.TempDir(), "--auth-file", path)
	if !strings.Contains(logs.String(), `"auth":"tokens (4 in `) {
		t.Errorf("the start-up log does not say how requests are authenticated:\n%s", logs)
	}
	edu := `{"module":"education","data":{"score":1}}`
	for _, c := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"POST", "/core/update", "", edu, 401},
		{"POST", "/core/update", "cbt_not_a_known_token", edu, 401},
		{"POST", "/core/update", testSecrets["producer-edu"], edu, 200},
		{"POST", "/core/update", testSecrets["producer-edu"], `{"module":"finance","data":{}}`, 403},
		{"POST", "/core/update", testSecrets["viewer"], edu, 403},
		{"GET", "/core/health", "", "", 401},
		{"GET", "/core/health", testSecrets["producer-edu"], "", 403},
		{"GET", "/core/health", testSecrets["viewer"], "", 200},
		{"GET", "/healthz", "", "", 200},
		{"GET", "/readyz", "", "", 200},
		{"GET", "/metrics", "", "", 401},
		{"GET", "/metrics", testSecrets["viewer"], "", 200},
		{"POST", "/api/dead-letters/purge", testSecrets["viewer"], `{"all":true}`, 403},
		{"POST", "/api/dead-letters/purge", testSecrets["operator"], `{"all":true}`, 200},
	} {
		if got := call(t, c.method, base+c.path, c.token, c.body); got != c.want {
			t.Errorf("%s %s with %q: %d, want %d", c.method, c.path, c.token, got, c.want)
		}
	}
	h := getWith(t, base+"/core/health", testSecrets["viewer"])
	if h["auth"] != "tokens" || h["received_total"] != 1.0 {
		t.Errorf("health: auth %v, received_total %v; want tokens, 1 (the refused updates stored nothing)", h["auth"], h["received_total"])
	}

	// Taken out of the file, the producer's token stops working: the file
	// is reloaded when it changes.
	if err := os.WriteFile(path+".new", []byte(mustRead(t, writeAuthFile(t, "producer-edu"))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for call(t, "POST", base+"/core/update", testSecrets["producer-edu"], edu) != 401 {
		if time.Now().After(deadline) {
			t.Fatalf("a token removed from the auth file still works after 15 s\nlogs:\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := call(t, "POST", base+"/core/update", testSecrets["producer-any"], edu); got != 200 {
		t.Errorf("a token still in the file: %d after the reload", got)
	}
}

// No secret configured for a run (the Bucket's password in its URL, the
// tokens) appears in a log line, a health or summary body, the metrics,
// the metrics log or the event stream.
func TestSecretsDoNotLeak(t *testing.T) {
	const bucketPassword = "bucket-pa55word-never-shown"
	const hookSecret = "hook-secret-never-shown"
	dir := t.TempDir()
	metricsLog := filepath.Join(dir, "metrics.jsonl")
	// An automation job inside serve (which needs its own token with an auth
	// file) calls the bridge and another service with a secret header.
	jobs := filepath.Join(dir, "jobs.json")
	reports := filepath.Join(dir, "reports")
	if err := os.WriteFile(jobs, []byte(`{"jobs":[{"name":"with-secrets","trigger":{"type":"onStartup","value":0},"actions":[
	  {"type":"send_core_update","data":{"module":"education","data":{"from":"automation"}}},
	  {"type":"http_request","data":{"url":"/core/health","headers":{"Authorization":"Bearer `+hookSecret+`","X-Api-Key":"`+hookSecret+`"},"expectStatus":[401]}}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	base, logs, stop := startServeLogs(t, "--data-dir", t.TempDir(), "--auth-file", writeAuthFile(t),
		"--bucket-url", "http://corebridge:"+bucketPassword+"@127.0.0.1:9/", "--metrics-log", metricsLog, "--metrics-interval", "50ms",
		"--breaker-threshold", "1", "--automation", jobs, "--automation-reports", reports)
	viewer := testSecrets["viewer"]
	// The runner inside serve authenticates with its own token: its job passes.
	waitFor(t, "the automation job to pass", 20*time.Second, func() bool {
		runs, _ := getWith(t, base+"/api/automation/runs", viewer)["runs"].([]any)
		return len(runs) == 1 && runs[0].(map[string]any)["status"] == "ok"
	})
	call(t, "POST", base+"/core/update", testSecrets["producer-any"], `{"module":"education","data":{"a":1}}`)
	call(t, "POST", base+"/core/update", "cbt_wrong_"+testSecrets["viewer"], `{"module":"education","data":{"a":1}}`)
	time.Sleep(300 * time.Millisecond) // a delivery attempt fails, snapshots are written
	var seen strings.Builder
	for _, path := range []string{"/core/health", "/api/summary", "/metrics", "/bucket/status", "/api/modules"} {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+viewer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen.WriteString(path + ": " + string(b) + "\n")
	}
	// The event stream's first summary.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "data:") && strings.Contains(sc.Text(), "bucket_url") {
				break
			}
		}
		resp.Body.Close()
	}
	cancel()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	seen.WriteString(logs.String())
	seen.WriteString(mustRead(t, metricsLog))
	var reportFiles int
	filepath.WalkDir(reports, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			reportFiles++
			seen.WriteString(mustRead(t, path))
			checkMode(t, path, 0o600) // reports may hold answers with record data
		}
		return nil
	})
	checkMode(t, reports, 0o700|os.ModeDir)
	all := seen.String()
	if reportFiles == 0 || !strings.Contains(all, `"job":"with-secrets"`) {
		t.Errorf("no automation report of the job was written (%d files)", reportFiles)
	}
	if !strings.Contains(all, "redacted@127.0.0.1:9") {
		t.Errorf("the Bucket's URL is not shown, redacted, anywhere:\n%s", all)
	}
	secrets := []string{bucketPassword, hookSecret}
	for _, s := range testSecrets {
		secrets = append(secrets, s)
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %q leaked into what serve showed or wrote", s)
		}
	}
}

func getWith(t *testing.T, url, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A --rate-limit that does not parse is a usage error (exit 2) naming the flag.
func TestServeRateLimitFlag(t *testing.T) {
	err := run(t.Context(), []string{"corebridge", "serve", "--data-dir", t.TempDir(), "--rate-limit", "producer=fast"},
		func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "--rate-limit") {
		t.Fatalf("serve --rate-limit producer=fast: %v (exit %d), want exit 2 naming the flag", err, exitCode(err))
	}
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--rate-limit", "*=1/2")
	body := `{"module":"m","data":{}}`
	got := []int{call(t, "POST", base+"/core/update", "", body), call(t, "POST", base+"/core/update", "", body), call(t, "POST", base+"/core/update", "", body)}
	if got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("three updates at 1/s burst 2: %v, want 200 200 429", got)
	}
}

// What serve creates that may hold record data is its owner's only: the
// data directory 0700, the databases (and their WAL) 0600, the InsightFlow
// log files 0600 in directories 0700.
func TestServeFilesAreOwnerOnly(t *testing.T) {
	root := t.TempDir()
	data, logs := filepath.Join(root, "data"), filepath.Join(root, "logs", "insight")
	base, stop := startServe(t, "--data-dir", data, "--log-data",
		"--core-sync-log", filepath.Join(logs, "core_sync.log"), "--flow-log", filepath.Join(logs, "flow.log"),
		"--metrics-log", filepath.Join(logs, "metrics.jsonl"))
	call(t, "POST", base+"/core/update", "", `{"module":"m","data":{"secret_reading":42}}`)
	waitFor(t, "the record synced", 10*time.Second, func() bool { return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 1 })
	for _, f := range []string{"corebridge.db", "corebridge.db-wal", "bucket.db", "bucket.db-wal"} {
		checkMode(t, filepath.Join(data, f), 0o600)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkMode(t, data, 0o700|os.ModeDir)
	checkMode(t, logs, 0o700|os.ModeDir)
	checkMode(t, filepath.Dir(logs), 0o700|os.ModeDir)
	for _, f := range []string{"core_sync.log", "flow.log"} {
		checkMode(t, filepath.Join(logs, f), 0o600)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if st.Mode() != want {
		t.Errorf("%s: mode %v, want %v", path, st.Mode(), want)
	}
}
