package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// postKeyed posts an update with an Idempotency-Key and returns the
// status and the decoded answer.
func postKeyed(t *testing.T, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode answer: %v", err)
	}
	return resp.StatusCode, out
}

// TestIdempotencyKeyPerModuleEndToEnd is issue 15's repro through the
// real program and its Bucket: key 42 with an education update, then key
// 42 with a finance update. On main the second answered duplicate with
// education's record id, and finance's record never reached the Bucket.
// The same key with another payload is refused (422) and stores nothing.
func TestIdempotencyKeyPerModuleEndToEnd(t *testing.T) {
	base, stop := startServe(t, "--data-dir", t.TempDir())
	defer stop()
	code, edu := postKeyed(t, base+"/core/update", "42", `{"module":"education","data":{"grade":"A"}}`)
	if code != 200 || edu["duplicate"] == true {
		t.Fatalf("education, key 42: %d %v", code, edu)
	}
	code, fin := postKeyed(t, base+"/core/update", "42", `{"module":"finance","data":{"total":99.5}}`)
	if code != 200 || fin["duplicate"] == true || fin["record_id"] == edu["record_id"] {
		t.Fatalf("finance, key 42: %d %v; want a new record, not education's %v", code, fin, edu["record_id"])
	}
	code, again := postKeyed(t, base+"/core/update", "42", `{"module":"finance","data":{"total":99.5}}`)
	if code != 200 || again["duplicate"] != true || again["record_id"] != fin["record_id"] {
		t.Fatalf("finance resent: %d %v; want a duplicate of %v", code, again, fin["record_id"])
	}
	code, conflict := postKeyed(t, base+"/core/update", "42", `{"module":"finance","data":{"total":100}}`)
	if msg := fmt.Sprint(conflict["detail"]); code != 422 || !strings.Contains(msg, "Idempotency-Key") ||
		!strings.Contains(msg, fin["record_id"].(string)) || !strings.Contains(msg, "different payload") {
		t.Fatalf("finance, key 42, other data: %d %v; want 422 naming the header, %v and the payload", code, conflict, fin["record_id"])
	}
	// Both records reach the Bucket; the refused one does not.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := getJSON(t, base+"/bucket/status")
		counts, _ := st["module_sync_counts"].(map[string]any)
		if counts["education"] == 1.0 && counts["finance"] == 1.0 && st["total_sync_count"] == 2.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bucket status %v, want one record of each module synced", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h := getJSON(t, base+"/core/health"); h["pending_queue"] != 0.0 {
		t.Errorf("pending_queue = %v after both synced, want 0", h["pending_queue"])
	}
}

// TestContentDedupeWindowOffEndToEnd: with --content-dedupe-window 0 a
// repeated heartbeat (same module, session and data) is stored every
// time; by default it is absorbed as a retry (within 5 minutes).
func TestContentDedupeWindowOffEndToEnd(t *testing.T) {
	hb := `{"module":"robotics","session_id":"arm-1","data":{"status":"ok"}}`
	for _, tc := range []struct {
		name string
		args []string
		dups int
	}{
		{"default", nil, 2},
		{"off", []string{"--content-dedupe-window", "0"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, stop := startServe(t, append([]string{"--data-dir", t.TempDir()}, tc.args...)...)
			defer stop()
			dups := 0
			for range 3 {
				code, a := postJSON(t, base+"/core/update", hb)
				if code != 200 {
					t.Fatalf("heartbeat: %d %v", code, a)
				}
				if a["duplicate"] == true {
					dups++
				}
			}
			if dups != tc.dups {
				t.Errorf("%d of 3 heartbeats answered duplicate, want %d", dups, tc.dups)
			}
		})
	}
}

// The windows are checked at start: a --retention shorter than a window
// would prune originals the window still needs, so serve refuses (exit 2,
// naming the flags) rather than clamp.
func TestDedupeWindowFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--retention", "1h"}, []string{"--retention", "--dedupe-window"}},
		{[]string{"--retention", "10m", "--dedupe-window", "5m", "--content-dedupe-window", "20m"}, []string{"--retention", "--content-dedupe-window"}},
		{[]string{"--dedupe-window", "0"}, []string{"--dedupe-window"}},
		{[]string{"--content-dedupe-window", "-1s"}, []string{"--content-dedupe-window"}},
	} {
		// Bounded: a serve that wrongly starts must not hang the test.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := run(ctx, append([]string{"corebridge", "serve", "--data-dir", t.TempDir()}, tc.args...),
			func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		cancel()
		if exitCode(err) != 2 {
			t.Errorf("serve %v: %v (exit %d), want exit 2", tc.args, err, exitCode(err))
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("serve %v: %q does not name %s", tc.args, err, w)
			}
		}
	}
}
