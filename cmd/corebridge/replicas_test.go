package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
	"corebridge/internal/logtest"
	"corebridge/internal/store/postgres/pgtest"
)

// drillPerModule is how many records each of the drill's four modules
// gets (COREBRIDGE_DRILL_RECORDS overrides, for scripts/replicas-drill.sh).
func drillPerModule() int {
	if n, err := strconv.Atoi(os.Getenv("COREBRIDGE_DRILL_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 5000
}

// TestReplicasDrill: three serve replicas on one PostgreSQL database,
// producers spread round-robin across them (4 modules, two producers
// each, every request with an Idempotency-Key, every tenth acknowledged
// update resent through another replica), one replica kill -9'd mid-run
// and restarted, the Bucket stopped for 10 s in the middle. The Bucket
// must end with every acknowledged record once, each producer's records
// in the order it sent them, nothing it was not acknowledged beyond what
// the bridge stored; producers see no error but 503s (and refused
// connections from the replica that is down, which a load balancer
// routes around); every replica reports the same figures.
func TestReplicasDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs three replicas")
	}
	db := pgtest.FreshDB(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	bdir := t.TempDir()
	b, err := server.Start(context.Background(), server.Config{DataDir: bdir})
	if err != nil {
		t.Fatal(err)
	}
	bucketAddr := strings.TrimPrefix(b.URL, "http://")
	var bmu sync.Mutex
	t.Cleanup(func() { bmu.Lock(); b.Stop(context.Background()); bmu.Unlock() })

	args := func(i int) []string {
		return []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json",
			"--postgres-url", db, "--bucket-url", b.URL, "--instance", fmt.Sprint("replica-", i), "--postgres-pool", "8",
			"--core-sync-log", "off", "--flow-log", "off", "--metrics-log", "off", "--breaker-cooldown", "500ms"}
	}
	procs := make([]*exec.Cmd, 3)
	bases := make([]atomic.Value, 3)
	logs := make([]*logtest.Buffer, 3)
	for i := range 3 {
		cmd, base, l := startProcessLogs(t, bin, args(i)...)
		procs[i], logs[i] = cmd, l
		bases[i].Store(base)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, l := range logs {
				t.Logf("replica %d logged:\n%s", i, l)
			}
		}
	})

	perModule := drillPerModule()
	const producersPerModule = 2
	var (
		mu       sync.Mutex
		acked    = map[string][]string{} // producer → ids in send order
		statuses = map[int]int{}
		refused  = map[int]int{} // by replica
		dups     atomic.Int64
		total    atomic.Int64
		down     atomic.Int32 // replica index+1 that is down, 0: none
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	post := func(replica int, body, key string) (int, string, bool, error) {
		req, _ := http.NewRequest("POST", bases[replica].Load().(string)+"/core/update", bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", false, err
		}
		defer resp.Body.Close()
		var out struct {
			RecordID  string `json:"record_id"`
			Duplicate bool   `json:"duplicate"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.RecordID, out.Duplicate, nil
	}
	// send posts until a replica acknowledges, moving to the next replica
	// after a 503 or a refused connection, as a load balancer would.
	send := func(next *int, body, key string) (string, bool) {
		for attempt := 0; ; attempt++ {
			r := *next % 3
			*next++
			code, id, dup, err := post(r, body, key)
			mu.Lock()
			if err != nil {
				refused[r]++
			} else {
				statuses[code]++
			}
			mu.Unlock()
			if err == nil && code == 200 {
				return id, dup
			}
			if err == nil && code != 503 {
				t.Errorf("replica %d answered %d to %s", r, code, key)
				return "", false
			}
			if attempt > 2000 {
				t.Errorf("no replica took %s after %d tries", key, attempt)
				return "", false
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for _, m := range modules4 {
		for p := range producersPerModule {
			name := fmt.Sprintf("%s-p%d", m, p)
			wg.Go(func() {
				next := p
				for i := range perModule / producersPerModule {
					key := fmt.Sprintf("%s-%d", name, i)
					body := fmt.Sprintf(`{"module":%q,"data":{"producer":%q,"i":%d},"session_id":%q}`, m, name, i, key)
					id, _ := send(&next, body, key)
					if id == "" {
						return
					}
					mu.Lock()
					acked[name] = append(acked[name], id)
					mu.Unlock()
					total.Add(1)
					if i%10 == 0 {
						// The same update again, through another replica.
						again, dup := send(&next, body, key)
						if again != id || !dup {
							t.Errorf("%s resent through another replica: record %s (duplicate %v), want %s as a duplicate", key, again, dup, id)
						}
						dups.Add(1)
					}
				}
			})
		}
	}
	want := int64(perModule * len(modules4))
	waitTotal := func(n int64) {
		for total.Load() < n && !t.Failed() {
			time.Sleep(10 * time.Millisecond)
		}
	}
	var killedAt, bucketStopped time.Duration
	start := time.Now()
	// A quarter in: kill -9 replica 1 mid-run, restart it 2 s later.
	waitTotal(want / 4)
	down.Store(2)
	procs[1].Process.Signal(syscall.SIGKILL)
	procs[1].Wait()
	killedAt = time.Since(start)
	time.Sleep(2 * time.Second)
	cmd, base, l := startProcessLogs(t, bin, args(1)...)
	procs[1], logs[1] = cmd, l
	bases[1].Store(base)
	down.Store(0)
	// Half way: the Bucket stops for 10 s.
	waitTotal(want / 2)
	bmu.Lock()
	b.Stop(context.Background())
	bmu.Unlock()
	bucketStopped = time.Since(start)
	time.Sleep(10 * time.Second)
	bmu.Lock()
	b, err = server.Start(context.Background(), server.Config{DataDir: bdir, Addr: bucketAddr})
	bmu.Unlock()
	if err != nil {
		t.Fatalf("restart the Bucket on %s: %v", bucketAddr, err)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ingestDone := time.Since(start)

	health := func(i int) map[string]any { return getJSON(t, bases[i].Load().(string)+"/core/health") }
	waitFor(t, "every replica to see the queue drained", 2*time.Minute, func() bool {
		for i := range 3 {
			if h := health(i); num(h, "pending_queue") != 0 || num(h, "synced_total") != num(h, "received_total") {
				return false
			}
		}
		return true
	})
	drained := time.Since(start)
	h0 := health(0)
	for i := 1; i < 3; i++ {
		h := health(i)
		for _, k := range []string{"received_total", "synced_total", "dead_count", "pending_queue"} {
			if num(h, k) != num(h0, k) {
				t.Errorf("replica %d says %s = %d, replica 0 says %d: figures differ by replica", i, k, num(h, k), num(h0, k))
			}
		}
	}
	stats, err := bucket.NewClient(b.URL).Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	received := num(h0, "received_total")
	if int(stats.Total) != received {
		t.Errorf("the Bucket holds %d records; the bridge stored %d", stats.Total, received)
	}
	if received < int(want) {
		t.Errorf("the bridge stored %d records; %d were acknowledged", received, want)
	}
	for _, m := range modules4 {
		got := bucketIDs(t, b.URL, m)
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Errorf("module %s: %s held twice", m, id)
			}
			seen[id] = true
		}
		for p := range producersPerModule {
			name := fmt.Sprintf("%s-p%d", m, p)
			if !isSubsequence(acked[name], got) {
				t.Errorf("producer %s: its %d acknowledged records are not all held, in the order sent, among the %d held of %s",
					name, len(acked[name]), len(got), m)
			}
		}
	}
	for code, n := range statuses {
		if code != 200 && code != 503 {
			t.Errorf("producers saw %d answers %d", n, code)
		}
	}
	for r, n := range refused {
		if r != 1 {
			t.Errorf("replica %d refused %d connections, but only replica 1 was down", r, n)
		}
	}
	t.Logf("%d acknowledged (+%d resent through another replica, all duplicates), %d stored, %d held by the Bucket; 503s %d, refused by the killed replica %d; kill at %v, Bucket stopped at %v for 10 s; ingest done at %v, drained at %v",
		want, dups.Load(), received, stats.Total, statuses[503], refused[1], killedAt.Round(time.Millisecond), bucketStopped.Round(time.Millisecond),
		ingestDone.Round(time.Millisecond), drained.Round(time.Millisecond))
}

// TestReplicaDatabaseCut: a replica whose database connections are cut
// (the process and the database both live) answers 503 and says down,
// logs it, and takes records again once the database is back; nothing it
// acknowledged is lost.
func TestReplicaDatabaseCut(t *testing.T) {
	db := pgtest.FreshDB(t)
	proxy := pgtest.NewProxy(t, db)
	base, logs, _ := startServeLogs(t, "--data-dir", t.TempDir(), "--postgres-url", proxy.URL(db), "--bucket-url", "http://127.0.0.1:9",
		"--max-pending", "-1")
	acked := 0
	postOne := func(i int) int {
		code, _ := postJSON(t, base+"/core/update", fmt.Sprintf(`{"module":"m","data":{"i":%d},"session_id":"cut-%d"}`, i, i))
		if code == 200 {
			acked++
		}
		return code
	}
	for i := range 20 {
		if code := postOne(i); code != 200 {
			t.Fatalf("before the cut: %d", code)
		}
	}
	proxy.Cut()
	for i := 20; i < 30; i++ {
		if code := postOne(i); code != 503 {
			t.Fatalf("with the database cut: %d, want 503", code)
		}
	}
	waitFor(t, "health to say down", 20*time.Second, func() bool {
		return getJSON(t, base+"/core/health")["status"] == "down"
	})
	proxy.Restore()
	i := 30
	waitFor(t, "ingest to take records again", 30*time.Second, func() bool { i++; return postOne(i) == 200 })
	for j := range 20 {
		if code := postOne(1000 + j); code != 200 {
			t.Fatalf("after the database came back: %d", code)
		}
	}
	waitFor(t, "health to recover", 20*time.Second, func() bool {
		return num(getJSON(t, base+"/core/health"), "received_total") == acked
	})
	if !strings.Contains(logs.String(), `"level":"WARN"`) {
		t.Errorf("nothing logged at WARN while the database was cut:\n%s", logs)
	}
}

// TestDashboardNamesTheLeader: with replicas on PostgreSQL the dashboard's
// store line names this replica and says it leads.
func TestDashboardNamesTheLeader(t *testing.T) {
	db := pgtest.FreshDB(t)
	base, _, _ := startServeLogs(t, "--data-dir", t.TempDir(), "--postgres-url", db, "--instance", "replica-a")
	b := newBrowser(t, 1280, 900)
	b.open(base)
	b.waitJS("the store line to name the leader", 20*time.Second,
		`document.getElementById('meta-store').textContent === 'postgres · replica-a (leader)'`)
}

// TestPostgresPasswordDoesNotLeak: a password in --postgres-url appears in
// no log line (also while the database is cut and errors are logged), no
// health, status, summary or metrics body, and not in pprof's cmdline.
func TestPostgresPasswordDoesNotLeak(t *testing.T) {
	const password = "pg-pa55word-never-shown"
	db := pgtest.FreshDB(t)
	proxy := pgtest.NewProxy(t, db)
	u, err := url.Parse(proxy.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password) // the test cluster trusts any password
	base, logs, stop := startServeLogs(t, "--data-dir", t.TempDir(), "--postgres-url", u.String(), "--bucket-url", "http://127.0.0.1:9")
	postJSON(t, base+"/core/update", `{"module":"m","data":{"a":1}}`)
	proxy.Cut()
	postJSON(t, base+"/core/update", `{"module":"m","data":{"a":2}}`)
	waitFor(t, "health to say down", 20*time.Second, func() bool { return getJSON(t, base+"/core/health")["status"] == "down" })
	proxy.Restore()
	var seen strings.Builder
	for _, path := range []string{"/core/health", "/api/summary", "/metrics", "/bucket/status"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen.Write(b)
	}
	seen.WriteString(redactArg("--postgres-url=" + u.String()))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	seen.WriteString(logs.String())
	if strings.Contains(seen.String(), password) {
		t.Errorf("the database password leaked into what serve showed or logged")
	}
	if !strings.Contains(logs.String(), "redacted@127.0.0.1") {
		t.Errorf("the database URL is not logged, redacted:\n%s", logs)
	}
}
