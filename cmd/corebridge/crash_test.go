package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
	"corebridge/internal/logtest"
)

// buildBinary compiles corebridge once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "corebridge-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "corebridge")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startProcess runs the built binary as a real process and returns its base URL.
func startProcess(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd, base, _ := startProcessLogs(t, bin, args...)
	return cmd, base
}

// startProcessLogs is startProcess that also keeps what the process logs.
func startProcessLogs(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *logtest.Buffer) {
	t.Helper()
	logs := &logtest.Buffer{}
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	select {
	case addr := <-addrc:
		base := "http://" + addr
		waitHTTP(t, base+"/healthz")
		return cmd, base, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not log its address\n%s", logs)
	}
	return nil, "", nil
}

// TestKill9KeepsAcknowledgedRecords: kill -9 the server while 64 clients
// post; after a restart every record that got a 200 is stored exactly once.
func TestKill9KeepsAcknowledgedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json"}, insightLogFlags(t)...)
	cmd, base := startProcess(t, bin, args...)

	type ack struct{ body, id string }
	var mu sync.Mutex
	var acks []ack
	sent := 0
	ctx, cancel := context.WithCancel(context.Background())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for c := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"module":"robotics","data":{"client":%d,"i":%d,"battery_pct":87.5},"session_id":"k9-%d-%d"}`, c, i, c, i)
				mu.Lock()
				sent++
				mu.Unlock()
				resp, err := client.Post(base+"/core/update", "application/json", bytes.NewReader([]byte(body)))
				if err != nil {
					return // the server is gone
				}
				var out struct {
					RecordID string `json:"record_id"`
				}
				derr := json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode == 200 && derr == nil {
					mu.Lock()
					acks = append(acks, ack{body, out.RecordID})
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	cancel()
	wg.Wait()
	if len(acks) < 100 {
		t.Fatalf("only %d acknowledged before the kill: the load did not run", len(acks))
	}

	_, base = startProcess(t, bin, args...)
	h := getJSON(t, base+"/core/health")
	received := int(h["received_total"].(float64))
	if received < len(acks) || received > sent {
		t.Fatalf("after restart %d records stored; %d were acknowledged and %d sent", received, len(acks), sent)
	}
	// Every acknowledged update, sent again, is recognised as the one
	// stored record with its original id: stored, and stored once.
	for _, a := range acks {
		resp, err := client.Post(base+"/core/update", "application/json", bytes.NewReader([]byte(a.body)))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			RecordID  string `json:"record_id"`
			Duplicate bool   `json:"duplicate"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !out.Duplicate || out.RecordID != a.id {
			t.Fatalf("acknowledged record %s: after restart got %d %+v", a.id, resp.StatusCode, out)
		}
	}
	if h := getJSON(t, base+"/core/health"); int(h["received_total"].(float64)) != received {
		t.Fatalf("re-sending acknowledged updates stored new records: %v", h)
	}
	t.Logf("%d acknowledged of %d sent before kill -9; %d stored after restart", len(acks), sent, received)
}

// TestKill9WithBatchesInFlight: kill -9 of serve while it delivers; after a
// restart the Bucket ends with every acknowledged record exactly once.
func TestKill9WithBatchesInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	// A slow Bucket keeps batches in flight when the kill comes.
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(),
		Faults: server.Faults{Latency: 30 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	dir := t.TempDir()
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json",
		"--bucket-url", b.URL, "--instance", "crash-test", "--batch-size", "50"}
	args = append(args, insightLogFlags(t)...)
	cmd, base := startProcess(t, bin, args...)

	stop := make(chan struct{})
	wait := producers(t, base, stop, time.Millisecond)
	time.Sleep(2 * time.Second)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	close(stop)
	acked, _ := wait() // requests cut by the kill fail: expected
	stats, err := bucket.NewClient(b.URL).Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, ids := range acked {
		total += len(ids)
	}
	atKill := stats.Total
	if stats.Total == 0 || int(stats.Total) >= total {
		t.Fatalf("the kill did not come mid-delivery: bucket held %d of %d acknowledged", stats.Total, total)
	}

	_, base = startProcess(t, bin, args...)
	waitFor(t, "the backlog to drain after restart", time.Minute, func() bool {
		return num(getJSON(t, base+"/core/health"), "pending_queue") == 0
	})
	h := getJSON(t, base+"/core/health")
	// Every acknowledged record, once, in order. A record committed in the
	// instant before the kill may be held without having been answered.
	for m, ids := range acked {
		got := bucketIDs(t, b.URL, m)
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Fatalf("module %s: %s held twice", m, id)
			}
			seen[id] = true
		}
		if !isSubsequence(ids, got) {
			t.Fatalf("module %s: the %d acknowledged records are not all held in acceptance order among the %d held", m, len(ids), len(got))
		}
	}
	stats, _ = bucket.NewClient(b.URL).Stats(context.Background())
	if int(stats.Total) != num(h, "received_total") || num(h, "synced_total") != num(h, "received_total") {
		t.Fatalf("bucket holds %d; bridge received %d and synced %d", stats.Total, num(h, "received_total"), num(h, "synced_total"))
	}
	t.Logf("%d acknowledged; bucket held %d at the kill and %d after restart", total, atKill, stats.Total)
}

// isSubsequence reports whether sub appears in seq in order.
func isSubsequence(sub, seq []string) bool {
	i := 0
	for _, s := range seq {
		if i < len(sub) && s == sub[i] {
			i++
		}
	}
	return i == len(sub)
}
