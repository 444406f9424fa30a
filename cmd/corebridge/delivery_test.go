package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
)

var modules4 = []string{"education", "finance", "creative", "robotics"}

// postBatch posts items of one module to /core/updates and returns their record ids.
func postBatch(t *testing.T, base, module string, from, n int) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"updates":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"module":%q,"data":{"n":%d,"note":"e2e"},"session_id":"%s-%d"}`, module, from+i, module, from+i)
	}
	b.WriteString(`]}`)
	resp, err := http.Post(base+"/core/updates", "application/json", strings.NewReader(b.String()))
	if err != nil {
		t.Errorf("post batch: %v", err)
		return nil
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			RecordID string `json:"record_id"`
		} `json:"results"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil || len(out.Results) != n {
		t.Errorf("post batch: status %d", resp.StatusCode)
		return nil
	}
	ids := make([]string, n)
	for i, r := range out.Results {
		ids[i] = r.RecordID
	}
	return ids
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func num(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

// bucketIDs pages through everything the Bucket holds of a module, in the
// order it stored them.
func bucketIDs(t *testing.T, bucketURL, module string) []string {
	t.Helper()
	c := bucket.NewClient(bucketURL)
	var ids []string
	after := ""
	for {
		recs, err := c.Records(context.Background(), module, after, 1000)
		if err != nil {
			t.Fatalf("read bucket: %v", err)
		}
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if len(recs) < 1000 {
			return ids
		}
		after = recs[len(recs)-1].ID
	}
}

// checkBucketHolds asserts the Bucket holds exactly want per module, in order.
func checkBucketHolds(t *testing.T, bucketURL string, want map[string][]string) {
	t.Helper()
	for m, ids := range want {
		got := bucketIDs(t, bucketURL, m)
		if !slices.Equal(got, ids) {
			t.Fatalf("module %s: bucket holds %d records, want %d in acceptance order (first difference at %d)",
				m, len(got), len(ids), firstDiff(got, ids))
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestDeliveryEndToEnd: 4 modules × 5,000 records through serve to its
// embedded Bucket: each held exactly once, per module in acceptance order.
func TestDeliveryEndToEnd(t *testing.T) {
	t.Parallel()
	base, _ := startServe(t, "--data-dir", t.TempDir())
	want := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range modules4 {
		wg.Go(func() {
			var ids []string
			for from := 0; from < 5000; from += 250 {
				ids = append(ids, postBatch(t, base, m, from, 250)...)
			}
			mu.Lock()
			want[m] = ids
			mu.Unlock()
		})
	}
	wg.Wait()
	waitFor(t, "20,000 syncs", 2*time.Minute, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 20000
	})
	h := getJSON(t, base+"/core/health")
	if h["status"] != "ok" || num(h, "pending_queue") != 0 || h["avg_latency_ms_24h"].(float64) <= 0 {
		t.Fatalf("health after delivery: %v", h)
	}
	st := getJSON(t, base+"/bucket/status")
	for _, m := range modules4 {
		if n := num(st["module_sync_counts"].(map[string]any), m); n != 5000 {
			t.Fatalf("module %s: %d syncs, want 5000", m, n)
		}
	}
	checkBucketHolds(t, h["bucket_url"].(string), want)
}

// producers posts single updates from one goroutine per module until stop
// is closed, and returns the acknowledged ids per module in order, and
// every non-200 seen.
func producers(t *testing.T, base string, stop <-chan struct{}, pause time.Duration) func() (map[string][]string, []string) {
	var mu sync.Mutex
	acked := map[string][]string{}
	var failures []string
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for _, m := range modules4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(pause):
				}
				body := fmt.Sprintf(`{"module":%q,"data":{"i":%d},"session_id":"p-%s-%d"}`, m, i, m, i)
				resp, err := client.Post(base+"/core/update", "application/json", bytes.NewReader([]byte(body)))
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				var out struct {
					RecordID string `json:"record_id"`
				}
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == 200 {
					acked[m] = append(acked[m], out.RecordID)
				} else {
					failures = append(failures, fmt.Sprintf("status %d", resp.StatusCode))
				}
				mu.Unlock()
			}
		})
	}
	return func() (map[string][]string, []string) {
		wg.Wait()
		return acked, failures
	}
}

// TestDeliveryRidesOutAnOutage: the Bucket is down for 30 s while
// producers keep posting. Producers see no error, health says degraded
// during the outage and ok after, and everything drains exactly once, in order.
func TestDeliveryRidesOutAnOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a 30 s outage")
	}
	t.Parallel()
	bdir := t.TempDir()
	b, err := server.Start(context.Background(), server.Config{DataDir: bdir})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", b.URL, "--breaker-cooldown", "1s")

	stop := make(chan struct{})
	wait := producers(t, base, stop, 20*time.Millisecond)
	time.Sleep(time.Second)
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	outageEnd := time.Now().Add(30 * time.Second)
	sawDegraded := false
	for time.Now().Before(outageEnd) {
		if h := getJSON(t, base+"/core/health"); h["status"] == "degraded" {
			sawDegraded = true
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !sawDegraded {
		t.Error("health never said degraded during a 30 s outage")
	}
	b, err = server.Start(context.Background(), server.Config{DataDir: bdir, Addr: b.Addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	time.Sleep(time.Second)
	close(stop)
	acked, failures := wait()
	if len(failures) > 0 {
		t.Fatalf("producers saw %d errors during the outage, e.g. %s", len(failures), failures[0])
	}
	total := 0
	for _, ids := range acked {
		total += len(ids)
	}
	waitFor(t, "the backlog to drain", time.Minute, func() bool {
		h := getJSON(t, base+"/core/health")
		return num(h, "pending_queue") == 0 && h["status"] == "ok"
	})
	if st := getJSON(t, base+"/bucket/status"); num(st, "total_sync_count") != total {
		t.Fatalf("%d synced, %d acknowledged", num(st, "total_sync_count"), total)
	}
	checkBucketHolds(t, b.URL, acked)
	t.Logf("%d records acknowledged across a 30 s outage, all delivered in order", total)
}

// TestRejectedRecordsBecomeDeadLettersAndReplay: records the Bucket rejects
// are dead-lettered with the reason without blocking other modules, and
// are delivered after a replay once the Bucket accepts them.
func TestRejectedRecordsBecomeDeadLettersAndReplay(t *testing.T) {
	t.Parallel()
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(),
		Faults: server.Faults{RejectModule: "finance"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", b.URL)

	fin := postBatch(t, base, "finance", 0, 40)
	edu := postBatch(t, base, "education", 0, 40)
	fin = append(fin, postBatch(t, base, "finance", 40, 10)...)
	waitFor(t, "education synced and finance dead", 30*time.Second, func() bool {
		st := getJSON(t, base+"/bucket/status")
		return num(st, "dead_count") == 50 && num(st["module_sync_counts"].(map[string]any), "education") == 40
	})
	dl := getJSON(t, base+"/api/dead-letters?module=finance&limit=1000")
	letters := dl["dead_letters"].([]any)
	if len(letters) != 50 {
		t.Fatalf("%d finance dead letters, want 50", len(letters))
	}
	first := letters[0].(map[string]any)
	if first["id"] != fin[0] || !strings.Contains(first["reason"].(string), "rejected") || num(first, "attempts") != 1 {
		t.Fatalf("first dead letter: %v", first)
	}

	b.Server.SetFaults(server.Faults{})
	code, out := postJSON(t, base+"/api/dead-letters/replay", `{"module":"finance"}`)
	if code != 200 || num(out, "replayed") != 50 {
		t.Fatalf("replay: %d %v", code, out)
	}
	waitFor(t, "replayed records to sync", 30*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 90
	})
	checkBucketHolds(t, b.URL, map[string][]string{"finance": fin, "education": edu})
}
