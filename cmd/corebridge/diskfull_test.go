//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"corebridge/internal/bucket/server"
)

// mountTmpfs mounts a tmpfs of size at a fresh directory for the test,
// and unmounts it at the end (after everything registered later stopped).
// It skips where that cannot be done (not Linux, not root, no mount),
// unless COREBRIDGE_REQUIRE_TMPFS=1 (CI) makes that a failure.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("COREBRIDGE_REQUIRE_TMPFS") == "1" {
		skip = t.Fatalf
	}
	if runtime.GOOS != "linux" {
		skip("the disk-full drill mounts a tmpfs: Linux only")
	}
	if os.Geteuid() != 0 {
		skip("the disk-full drill mounts a tmpfs: run it as root (CI does)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		skip("the disk-full drill cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fillDisk writes a ballast file in dir until leave bytes are free on its
// filesystem, and returns its path.
func fillDisk(t *testing.T, dir string, leave uint64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := st.Bavail * uint64(st.Bsize)
	if free <= leave {
		t.Fatalf("only %d bytes free before the ballast", free)
	}
	path := filepath.Join(dir, "ballast")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for left := free - leave; left > 0; {
		n := min(left, uint64(len(chunk)))
		if _, err := f.Write(chunk[:n]); errors.Is(err, syscall.ENOSPC) {
			break // the bridge wrote meanwhile: full a little sooner
		} else if err != nil {
			t.Fatalf("write ballast: %v", err)
		}
		left -= n
	}
	return path
}

// drillProducers post updates of four modules until stop, and keep what
// was acknowledged (per module, in order), how many were refused with 503
// and Retry-After, and every other answer, which the drill forbids.
type drillProducers struct {
	mu      sync.Mutex
	acked   map[string][]string
	refused atomic.Int64
	wrong   []string
	wg      sync.WaitGroup
}

func startDrillProducers(base string, stop <-chan struct{}) *drillProducers {
	p := &drillProducers{acked: map[string][]string{}}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, m := range modules4 {
		p.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				body := fmt.Sprintf(`{"module":%q,"data":{"i":%d,"pad":"%s"},"session_id":"d-%s-%d"}`, m, i, strings.Repeat("x", 200), m, i)
				resp, err := client.Post(base+"/core/update", "application/json", strings.NewReader(body))
				if err != nil {
					p.fail(err.Error())
					continue
				}
				var out struct {
					RecordID string `json:"record_id"`
					Detail   any    `json:"detail"`
				}
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusOK:
					p.mu.Lock()
					p.acked[m] = append(p.acked[m], out.RecordID)
					p.mu.Unlock()
				case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
					p.refused.Add(1)
				default:
					p.fail(fmt.Sprintf("%d (Retry-After %q): %v", resp.StatusCode, resp.Header.Get("Retry-After"), out.Detail))
				}
			}
		})
	}
	return p
}

func (p *drillProducers) fail(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wrong = append(p.wrong, s)
}

// ackedCount is how many records the producers have had acknowledged.
func (p *drillProducers) ackedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ids := range p.acked {
		n += len(ids)
	}
	return n
}

// resumeAndDrain waits, once the disk has room again, for ingest to take
// records with no restart; then stops the producers, checks that every
// answer was 200 or 503 with Retry-After, and waits for health to be ok
// with everything delivered.
func (p *drillProducers) resumeAndDrain(t *testing.T, base string, stop chan struct{}) {
	t.Helper()
	before := p.ackedCount()
	waitFor(t, "ingest to resume once the ballast is gone", 5*time.Second, func() bool { return p.ackedCount() > before+8 })
	close(stop)
	p.wg.Wait()
	if len(p.wrong) > 0 {
		t.Fatalf("%d answers neither 200 nor 503 with Retry-After, e.g. %s", len(p.wrong), p.wrong[0])
	}
	waitFor(t, "health to return to ok with everything delivered", 20*time.Second, func() bool {
		h := getJSON(t, base+"/core/health")
		return h["status"] == "ok" && num(h, "pending_queue") == 0
	})
}

// TestDiskFullDrill: serve with its store on a 64 MiB tmpfs, producers
// sending, the Bucket down; a ballast file fills the disk past
// --min-free-disk. Ingest answers 503 with Retry-After (never 500),
// health is degraded naming the disk the whole time and /readyz 503,
// delivery drains the backlog once the Bucket is back while ingest still
// refuses; the ballast is deleted and ingest resumes by itself, health
// returns to ok, and every acknowledged record is in the Bucket exactly
// once, in order. One WARN when the guard trips, one INFO when it lets go.
func TestDiskFullDrill(t *testing.T) {
	disk := mountTmpfs(t, "64m")
	bdir := t.TempDir() // the Bucket's disk is not the one that fills
	b, err := server.Start(context.Background(), server.Config{DataDir: bdir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	base, logs, stopServe := startServeLogs(t, "--data-dir", filepath.Join(disk, "data"), "--bucket-url", b.URL,
		"--min-free-disk", "16MiB", "--breaker-cooldown", "1s")

	stopProducers := make(chan struct{})
	p := startDrillProducers(base, stopProducers)
	time.Sleep(time.Second)
	if err := b.Stop(context.Background()); err != nil { // a backlog builds up
		t.Fatal(err)
	}
	time.Sleep(time.Second)

	ballast := fillDisk(t, disk, 8<<20)
	waitFor(t, "ingest to refuse below --min-free-disk", 5*time.Second, func() bool { return p.refused.Load() > 0 })
	resp, err := http.Post(base+"/core/update", "application/json", strings.NewReader(`{"module":"finance","data":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	var answer map[string]any
	json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(fmt.Sprint(answer["detail"]), "disk almost full") {
		t.Fatalf("update below --min-free-disk: %d Retry-After %q %v, want 503 naming the disk", resp.StatusCode, resp.Header.Get("Retry-After"), answer)
	}

	// Refusing: health says why at every look, /readyz is 503, and
	// delivery drains the backlog once the Bucket is back.
	checkRefusing := func() {
		t.Helper()
		h := getJSON(t, base+"/core/health")
		if h["status"] == "ok" || !strings.Contains(fmt.Sprint(h["reasons"]), "disk almost full") {
			t.Fatalf("health while the disk is almost full: %v %v, want degraded naming the disk", h["status"], h["reasons"])
		}
		r, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 503 {
			t.Fatalf("/readyz while the disk is almost full: %d, want 503", r.StatusCode)
		}
	}
	checkRefusing()
	b, err = server.Start(context.Background(), server.Config{DataDir: bdir, Addr: b.Addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	waitFor(t, "delivery to drain the backlog while ingest refuses", 20*time.Second, func() bool {
		checkRefusing()
		return num(getJSON(t, base+"/core/health"), "pending_queue") == 0
	})
	checkRefusing()
	refusedBefore := p.refused.Load()

	// Room again: ingest resumes with no restart, health returns to ok.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	p.resumeAndDrain(t, base, stopProducers)
	total := p.ackedCount()
	if st := getJSON(t, base+"/bucket/status"); num(st, "total_sync_count") != total {
		t.Errorf("%d synced, %d acknowledged", num(st, "total_sync_count"), total)
	}
	checkBucketHolds(t, b.URL, p.acked)

	if err := stopServe(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if n := len(logLines(logs, 0, "WARN", regexp.MustCompile(`"msg":"ingest refusing: disk almost full`))); n != 1 {
		t.Errorf("%d WARN lines for the guard tripping, want 1", n)
	}
	if n := len(logLines(logs, 0, "INFO", regexp.MustCompile(`"msg":"ingest accepts again: the disk has room`))); n != 1 {
		t.Errorf("%d INFO lines for the guard letting go, want 1", n)
	}
	t.Logf("%d records acknowledged, %d refused (503) while the disk was almost full, all delivered exactly once", total, refusedBefore)
}

// TestDiskFullDrillSQLiteFull: the same with the guard off
// (--min-free-disk 0) and the disk filled to the last byte, so that
// SQLite's own commits fail (SQLITE_FULL): still 503 with Retry-After,
// never 500, health down naming the full storage the whole time, nothing
// acknowledged lost, and ingest resumes by itself once the ballast is
// gone. The Bucket is down (breaker open) while the disk is full: a
// settle that fails for lack of space leaves its lease to expire
// (delivery timeout + 30 s), which this drill does not wait out.
func TestDiskFullDrillSQLiteFull(t *testing.T) {
	disk := mountTmpfs(t, "64m")
	bdir := t.TempDir()
	b, err := server.Start(context.Background(), server.Config{DataDir: bdir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	base, logs, stopServe := startServeLogs(t, "--data-dir", filepath.Join(disk, "data"), "--bucket-url", b.URL,
		"--min-free-disk", "0", "--breaker-cooldown", "1s")

	stopProducers := make(chan struct{})
	p := startDrillProducers(base, stopProducers)
	time.Sleep(time.Second)
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the breaker to open", 15*time.Second, func() bool { return getJSON(t, base+"/core/health")["breaker"] == "open" })

	ballast := fillDisk(t, disk, 0)
	waitFor(t, "a commit to fail on the full disk", 15*time.Second, func() bool { return p.refused.Load() > 0 })
	for range 10 {
		h := getJSON(t, base+"/core/health")
		if h["status"] != "down" || !strings.Contains(fmt.Sprint(h["reasons"]), "storage is full") {
			t.Fatalf("health on a full disk: %v %v, want down naming the full storage", h["status"], h["reasons"])
		}
		time.Sleep(200 * time.Millisecond)
	}
	refused := p.refused.Load()

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	b, err = server.Start(context.Background(), server.Config{DataDir: bdir, Addr: b.Addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	p.resumeAndDrain(t, base, stopProducers)
	checkBucketHolds(t, b.URL, p.acked)
	if err := stopServe(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if n := len(logLines(logs, 0, "WARN", regexp.MustCompile(`"msg":"commit failed: storage unavailable`))); n != 1 {
		t.Errorf("%d WARN lines for the failed commits, want 1", n)
	}
	if n := len(logLines(logs, 0, "INFO", regexp.MustCompile(`"msg":"commits succeed again`))); n != 1 {
		t.Errorf("%d INFO lines for commits succeeding again, want 1", n)
	}
	t.Logf("%d records acknowledged, %d refused (503) on a full disk, all delivered exactly once", p.ackedCount(), refused)
}
