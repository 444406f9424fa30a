package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket/server"
)

// healthReasons returns /core/health's status, reasons and blocked modules.
func healthReasons(t *testing.T, base string) (string, []string, []string) {
	t.Helper()
	h := getJSON(t, base+"/core/health")
	var reasons, blocked []string
	for _, r := range h["reasons"].([]any) {
		reasons = append(reasons, r.(string))
	}
	for _, m := range h["blocked_modules"].([]any) {
		blocked = append(blocked, m.(string))
	}
	return h["status"].(string), reasons, blocked
}

// TestStrictOrderEndToEnd: with --strict-order finance, a finance record
// the Bucket rejects blocks the finance records after it (education goes
// on); health says degraded naming the module and the record, the log
// says so at WARN; after a replay the dead record reaches the Bucket
// first, then the rest, in acceptance order (INFO in the log); after a
// purge the records behind it go.
func TestStrictOrderEndToEnd(t *testing.T) {
	t.Parallel()
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(),
		Faults: server.Faults{RejectModule: "finance"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	base, logs, _ := startServeLogs(t, "--data-dir", t.TempDir(), "--bucket-url", b.URL, "--strict-order", "finance")
	status := func() map[string]any { return getJSON(t, base+"/bucket/status") }
	synced := func(m string) int { return num(status()["module_sync_counts"].(map[string]any), m) }

	dead := postBatch(t, base, "finance", 0, 1)
	waitFor(t, "the finance record dead", 30*time.Second, func() bool { return num(status(), "dead_count") == 1 })
	b.Server.SetFaults(server.Faults{})
	fin := postBatch(t, base, "finance", 1, 5)
	edu := postBatch(t, base, "education", 0, 5)
	waitFor(t, "education synced", 30*time.Second, func() bool { return synced("education") == 5 })

	want := fmt.Sprintf("finance is blocked by dead record %s (--strict-order): 5 pending records wait behind it", dead[0])
	waitFor(t, "health to name the block", 10*time.Second, func() bool {
		st, reasons, blocked := healthReasons(t, base)
		return st == "degraded" && slices.Equal(blocked, []string{"finance"}) &&
			slices.ContainsFunc(reasons, func(r string) bool { return strings.HasPrefix(r, want) })
	})
	if n := synced("finance"); n != 0 {
		t.Fatalf("%d finance records synced past their dead head under --strict-order", n)
	}
	if l := logs.String(); !strings.Contains(l, `"level":"WARN","msg":"module blocked by a dead record (--strict-order): replay or purge it"`) ||
		!strings.Contains(l, dead[0]) {
		t.Errorf("no WARN naming the blocking record %s in the log:\n%s", dead[0], l)
	}

	code, out := postJSON(t, base+"/api/dead-letters/replay", `{"module":"finance"}`)
	if code != 200 || num(out, "replayed") != 1 {
		t.Fatalf("replay: %d %v", code, out)
	}
	waitFor(t, "finance synced", 30*time.Second, func() bool { return synced("finance") == 6 })
	checkBucketHolds(t, b.URL, map[string][]string{"finance": append(dead, fin...), "education": edu})
	if _, _, blocked := healthReasons(t, base); len(blocked) != 0 {
		t.Errorf("blocked_modules after the replay: %v", blocked)
	}
	waitFor(t, "INFO of the recovery", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), `"level":"INFO","msg":"module delivers again (--strict-order)"`)
	})

	// Purge unblocks too.
	b.Server.SetFaults(server.Faults{RejectModule: "finance"})
	dead2 := postBatch(t, base, "finance", 6, 1)
	waitFor(t, "the second finance record dead", 30*time.Second, func() bool { return num(status(), "dead_count") == 1 })
	b.Server.SetFaults(server.Faults{})
	more := postBatch(t, base, "finance", 7, 2)
	waitFor(t, "health to name the new block", 10*time.Second, func() bool {
		_, reasons, _ := healthReasons(t, base)
		return slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, dead2[0]) })
	})
	code, out = postJSON(t, base+"/api/dead-letters/purge", `{"module":"finance"}`)
	if code != 200 || num(out, "purged") != 1 {
		t.Fatalf("purge: %d %v", code, out)
	}
	waitFor(t, "finance synced after the purge", 30*time.Second, func() bool { return synced("finance") == 8 })
	checkBucketHolds(t, b.URL, map[string][]string{"finance": append(append(dead, fin...), more...)})
}
