package main

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/store/sqlite"
)

// deadURL returns the URL of a loopback port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// The scenario: a record that already used attempts, and a restart
// against a Bucket that is not there. The breaker opens (health degraded,
// naming the first failure) before the record burns more than
// --breaker-threshold attempts; with a probe of /healthz first, it burns none.
func TestRestartAgainstDeadBucketOpensBreakerWithoutBurningAttempts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const used = 4
	st, err := sqlite.Open(filepath.Join(dir, "corebridge.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := bridge.Now()
	if _, err := st.Append(ctx, []bridge.NewRecord{{ID: "rec-1", Module: "finance", SessionID: "s",
		Data: json.RawMessage(`{"amount":1}`), ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	for i := range used {
		l, err := st.Lease(ctx, bridge.LeaseParams{Owner: "earlier", Now: now, TTL: time.Minute, MaxRecords: 10})
		if err != nil || l == nil {
			t.Fatalf("lease %d: %v, %v", i, l, err)
		}
		if err := st.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: now, Retry: []string{"rec-1"},
			RetryAt: now, Error: "connection refused"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	const threshold = 3
	start := time.Now()
	base, stop := startServe(t, "--data-dir", dir, "--bucket-url", deadURL(t), "--breaker-threshold", "3",
		"--breaker-cooldown", "1s")
	var h map[string]any
	waitFor(t, "the breaker to open", 15*time.Second, func() bool {
		h = getJSON(t, base+"/core/health")
		return h["breaker"] == "open"
	})
	if h["status"] != "degraded" || h["bucket_reachable"] != false {
		t.Errorf("health %v / reachable %v with the breaker open, want degraded and unreachable", h["status"], h["bucket_reachable"])
	}
	reasons, _ := json.Marshal(h["reasons"])
	if !strings.Contains(string(reasons), "bucket unreachable since") || !strings.Contains(string(reasons), "first failure") {
		t.Errorf("reasons %s, want the Bucket named unreachable since its first failure", reasons)
	}
	// A few cooldowns pass: the open breaker probes, records are not sent.
	time.Sleep(3 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st, err = sqlite.Open(filepath.Join(dir, "corebridge.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Get(ctx, "rec-1")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != bridge.StatePending || r.Attempts > used+threshold {
		t.Errorf("after the restart the record is %s with %d attempts (had %d); want pending, at most %d more",
			r.State, r.Attempts, used, threshold)
	}
	if r.Attempts != used {
		t.Errorf("the record burned %d attempts against a Bucket whose /healthz fails; want none", r.Attempts-used)
	}
	t.Logf("breaker open %.1fs after start; record attempts %d -> %d", time.Since(start).Seconds(), used, r.Attempts)
}
