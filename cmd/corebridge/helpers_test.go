package main

import (
	"context"
	"corebridge/internal/logtest"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var listenRE = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

// waitListening returns the address the program logged it listens on.
func waitListening(t *testing.T, logs *logtest.Buffer, errc <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-errc:
			t.Fatalf("program exited before listening: %v\nlogs:\n%s", err, logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("program did not log its address\nlogs:\n%s", logs)
	return ""
}

// startServe runs `corebridge serve` through run() with the given flags on
// 127.0.0.1:0 and returns its base URL and a stop function that cancels it
// and returns run's error.
func startServe(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	base, _, stop := startServeLogs(t, args...)
	return base, stop
}

// startServeLogs is startServe that also returns what the program logs.
func startServeLogs(t *testing.T, args ...string) (string, *logtest.Buffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logtest.Buffer{}
	errc := make(chan error, 1)
	argv := append([]string{"corebridge", "serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, insightLogFlags(t)...)
	argv = append(argv, args...)
	go func() {
		errc <- run(ctx, argv, func(string) string { return "" }, strings.NewReader(""), io.Discard, logs)
	}()
	addr := waitListening(t, logs, errc)
	base := "http://" + addr
	waitHTTP(t, base+"/healthz")
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(30 * time.Second):
				runErr = fmt.Errorf("serve did not stop within 30 s")
			}
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return base, logs, stop
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never answered 200", url)
}

// postJSON posts body and decodes the JSON answer into a map.
// postRoundRobin posts n updates to /core/update, one at a time, taking
// modules in turn; it returns the acknowledged ids by module and in order.
func postRoundRobin(t *testing.T, base string, modules []string, n int) (map[string][]string, []string) {
	t.Helper()
	want := map[string][]string{}
	var ids []string
	for i := range n {
		m := modules[i%len(modules)]
		code, out := postJSON(t, base+"/core/update", fmt.Sprintf(`{"module":%q,"data":{"i":%d},"session_id":"s-%d"}`, m, i, i))
		id, _ := out["record_id"].(string)
		if code != 200 || id == "" {
			t.Fatalf("update %d: %d %v", i, code, out)
		}
		want[m] = append(want[m], id)
		ids = append(ids, id)
	}
	return want, ids
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: decode answer: %v", url, err)
	}
	return resp.StatusCode, out
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET %s: decode: %v", url, err)
	}
	return out
}

// insightLogFlags points the InsightFlow log files into a temporary
// directory, so that tests do not write logs/ and insight/ where they run.
func insightLogFlags(t *testing.T) []string {
	dir := t.TempDir()
	return []string{"--core-sync-log", filepath.Join(dir, "core_sync.log"), "--flow-log", filepath.Join(dir, "flow.log"),
		"--metrics-log", filepath.Join(dir, "metrics.jsonl")}
}
