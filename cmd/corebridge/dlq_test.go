package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket/server"
	"corebridge/internal/logtest"
)

// TestDLQCommands: `corebridge dlq list|replay|purge` against a running
// bridge whose Bucket rejects one module.
func TestDLQCommands(t *testing.T) {
	t.Parallel()
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(),
		Faults: server.Faults{RejectModule: "creative"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", b.URL)
	ids := append(postBatch(t, base, "creative", 0, 600), postBatch(t, base, "creative", 600, 600)...)
	waitFor(t, "1,200 dead letters", 30*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "dead_count") == 1200
	})
	dlq := func(args ...string) (string, string, error) {
		var out, errOut logtest.Buffer
		err := run(context.Background(), append([]string{"corebridge", "dlq"}, args...),
			func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
		return out.String(), errOut.String(), err
	}

	out, _, err := dlq("list", "--api-url", base, "--module", "creative", "--limit", "3")
	if err != nil || !strings.Contains(out, ids[0]) || !strings.Contains(out, "rejected") || strings.Contains(out, ids[3]) {
		t.Fatalf("dlq list: %v\n%s", err, out)
	}
	if !strings.Contains(out, "(next page: --after ") {
		t.Errorf("dlq list of 3 of 1,200 does not say how to get the next page:\n%s", out)
	}
	if _, _, err := dlq("replay", "--api-url", base); exitCode(err) != 2 {
		t.Fatalf("replay without a selector must be a usage error, got %v", err)
	}

	// Replay more than one of the store's pages (500) with the Bucket
	// accepting again: one operator action, one audit entry.
	b.Server.SetFaults(server.Faults{})
	out, errOut, err := dlq("replay", "--api-url", base, "--module", "creative")
	if err != nil || !strings.Contains(out, "replayed 1200 dead letters") {
		t.Fatalf("dlq replay: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	var replays []map[string]any
	for _, e := range getJSON(t, base+"/api/audit")["entries"].([]any) {
		if e := e.(map[string]any); e["action"] == "replay" {
			replays = append(replays, e)
		}
	}
	if len(replays) == 0 {
		t.Errorf("dlq replay --module creative left no audit entry")
	} else if len(replays) != 1 || replays[0]["target"] != "module: creative" || num(replays[0], "records") != 1200 {
		target, _ := replays[0]["target"].(string)
		t.Errorf("one dlq replay --module creative left %d audit entries, the first of %d records, target %.40q…; want one, of module creative, 1200 records",
			len(replays), num(replays[0], "records"), target)
	}
	waitFor(t, "replayed records to sync", 30*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 1200
	})
	checkBucketHolds(t, b.URL, map[string][]string{"creative": ids})

	// Purge: reject again, let two records die, purge them by id.
	b.Server.SetFaults(server.Faults{RejectModule: "creative"})
	more := postBatch(t, base, "creative", 5000, 2)
	waitFor(t, "2 new dead letters", 30*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "dead_count") == 2
	})
	// The whole list fits one page: no next page is offered.
	if out, _, err := dlq("list", "--api-url", base); err != nil || !strings.Contains(out, more[1]) || strings.Contains(out, "next page") {
		t.Errorf("dlq list of 2 dead letters offers a next page: %v\n%s", err, out)
	}
	out, _, err = dlq("purge", "--yes", "--api-url", base, "--ids", strings.Join(more, ","))
	if err != nil || !strings.Contains(out, "purged 2 dead letters") {
		t.Fatalf("dlq purge: %v\n%s", err, out)
	}
	if out, _, _ := dlq("list", "--api-url", base); !strings.Contains(out, "no dead letters") {
		t.Fatalf("after purge: %s", out)
	}
}

// TestDemo: one command runs the bridge, its Bucket and the mock
// producers, prints where to look, and records get synced.
func TestDemo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out logtest.Buffer
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"corebridge", "demo", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--interval", "100ms"}, insightLogFlags(t)...),
			func(string) string { return "" }, strings.NewReader(""), &out, io.Discard)
	}()
	waitFor(t, "demo output with synced records", 20*time.Second, func() bool {
		return strings.Count(out.String(), "status=success") >= 8
	})
	for _, want := range []string{"dashboard      http://127.0.0.1:", "/metrics", "API            http://127.0.0.1:", "/core/health", "/v1/stats", "[robotics] status=success"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("demo returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
}
