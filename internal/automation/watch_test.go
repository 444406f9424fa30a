package automation

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// watchRig runs Run under a fake clock against a fake bridge.
type watchRig struct {
	t      *testing.T
	clock  *fakeClock
	f      *fakeBridge
	r      *Runner
	dir    string
	cancel context.CancelFunc
	done   chan error
}

func startWatch(t *testing.T, f *fakeBridge, cfg, dir string, opts Options) *watchRig {
	t.Helper()
	w := &watchRig{t: t, clock: newFakeClock(t0), f: f, dir: dir, done: make(chan error, 1)}
	opts.APIURL, opts.Clock, opts.ReportsDir, opts.Jitter = f.URL, w.clock, dir, noJitter
	w.r = New(mustParse(t, cfg), opts)
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() { w.done <- w.r.Run(ctx) }()
	t.Cleanup(func() {
		f.release() // a failed test may leave a job blocked
		w.stop()
	})
	w.settle(0)
	return w
}

// settle waits until the loop, woken after `before` After calls, waits
// again and every run it started has ended.
func (w *watchRig) settle(before int) {
	w.t.Helper()
	eventually(w.t, "the watch loop to settle", func() bool {
		return w.clock.afterCalls() > before && w.r.inflight.Load() == 0
	})
}

// advance moves the clock by d and lets the loop act on it.
func (w *watchRig) advance(d time.Duration) {
	w.t.Helper()
	before := w.clock.afterCalls()
	w.clock.Advance(d)
	w.settle(before)
}

func (w *watchRig) stop() error {
	w.cancel()
	select {
	case err := <-w.done:
		w.done <- err
		return err
	case <-time.After(10 * time.Second):
		w.t.Fatal("Run did not return after cancel")
		return nil
	}
}

// runsOf returns a job's run records, oldest first.
func runsOf(r *Runner, job string) []RunRecord {
	var out []RunRecord
	all := r.Runs()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Job == job {
			out = append(out, all[i])
		}
	}
	return out
}

// updates counts the updates the fake bridge got for a module.
func (f *fakeBridge) updates(module string) int {
	n := 0
	for _, s := range f.seen() {
		var u struct{ Module string }
		if s.Path == "/core/update" && json.Unmarshal([]byte(s.Body), &u) == nil && u.Module == module {
			n++
		}
	}
	return n
}

func TestWatchStartupAndIntervalTriggers(t *testing.T) {
	f := newFakeBridge(t)
	job := func(name, trigger string) string {
		return `{"name":"` + name + `",` + trigger + `"actions":[{"type":"send_core_update","data":{"module":"` + name + `","data":{}}}]}`
	}
	cfg := `{"jobs":[` + strings.Join([]string{
		job("boot", `"trigger":{"type":"onStartup"},`),
		job("tick", `"trigger":{"type":"intervalMinutes","value":5},`),
		job("fast", `"trigger":{"type":"intervalSeconds","value":90},`),
		job("plain", ""),
	}, ",") + `]}`
	w := startWatch(t, f, cfg, t.TempDir(), Options{DefaultInterval: 7 * time.Minute})

	counts := func() [4]int {
		return [4]int{f.updates("boot"), f.updates("tick"), f.updates("fast"), f.updates("plain")}
	}
	steps := []struct {
		by   time.Duration
		want [4]int // boot, tick, fast, plain
	}{
		{0, [4]int{1, 0, 0, 0}},
		{89 * time.Second, [4]int{1, 0, 0, 0}},
		{time.Second, [4]int{1, 0, 1, 0}},      // 1:30
		{90 * time.Second, [4]int{1, 0, 2, 0}}, // 3:00
		{90 * time.Second, [4]int{1, 0, 3, 0}}, // 4:30
		{30 * time.Second, [4]int{1, 1, 3, 0}}, // 5:00
		{time.Minute, [4]int{1, 1, 4, 0}},      // 6:00
		{time.Minute, [4]int{1, 1, 4, 1}},      // 7:00
		{3 * time.Minute, [4]int{1, 2, 5, 1}},  // 10:00 (fast collapses 7:30 and 9:00 into one late run)
	}
	elapsed := time.Duration(0)
	for _, s := range steps {
		if s.by > 0 {
			w.advance(s.by)
		}
		elapsed += s.by
		if got := counts(); got != s.want {
			t.Fatalf("at +%v: boot/tick/fast/plain ran %v times, want %v", elapsed, got, s.want)
		}
	}
	wantTriggers := map[string]string{"boot": "onStartup", "tick": "intervalMinutes 5", "fast": "intervalSeconds 90", "plain": "interval 7m0s (default)"}
	for job, trig := range wantTriggers {
		for _, rec := range runsOf(w.r, job) {
			if rec.Trigger != trig || rec.Status != StatusOK {
				t.Errorf("%s run %+v, want trigger %q and ok", job, rec, trig)
			}
		}
	}
	if got := runsOf(w.r, "tick"); got[0].Started != t0.Add(5*time.Minute) {
		t.Errorf("tick first ran at %v, want %v", got[0].Started, t0.Add(5*time.Minute))
	}
	if err := w.stop(); err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	// One run file and one daily line per firing: start, 1:30, 3:00,
	// 4:30, 5:00, 6:00, 7:00, 10:00.
	daily, _ := os.ReadFile(filepath.Join(w.dir, dailyLogName))
	if n := strings.Count(string(daily), "\n"); n != 8 {
		t.Errorf("daily log has %d lines, want 8:\n%s", n, daily)
	}
	runs, _ := filepath.Glob(filepath.Join(w.dir, "run_*.jsonl"))
	if len(runs) != 8 {
		t.Errorf("%d run files, want 8", len(runs))
	}
}

func TestWatchCronTrigger(t *testing.T) {
	f := newFakeBridge(t)
	// 09:00 in New York is 14:00 UTC in November; the clock starts at 13:00 UTC.
	cfg := `{"jobs":[{"name":"morning","trigger":{"type":"cron","value":"0 9 * * *","timezone":"America/New_York"},
		"actions":[{"type":"get_bucket_status"}]}]}`
	w := startWatch(t, f, cfg, t.TempDir(), Options{})
	w.advance(59 * time.Minute)
	if n := f.count("/bucket/status"); n != 0 {
		t.Fatalf("ran %d times before 09:00 New York", n)
	}
	w.advance(time.Minute)
	recs := runsOf(w.r, "morning")
	if f.count("/bucket/status") != 1 || len(recs) != 1 {
		t.Fatalf("ran %d times at 09:00 New York, want 1", f.count("/bucket/status"))
	}
	if recs[0].Trigger != "cron 0 9 * * * America/New_York" || !recs[0].Started.Equal(t0.Add(time.Hour)) {
		t.Errorf("run %+v", recs[0])
	}
	w.advance(23 * time.Hour)
	if n := f.count("/bucket/status"); n != 1 {
		t.Fatalf("ran %d times before the next morning", n)
	}
	w.advance(time.Hour)
	if n := f.count("/bucket/status"); n != 2 {
		t.Fatalf("ran %d times by the second morning, want 2", n)
	}
}

func TestWatchNeverOverlapsAJob(t *testing.T) {
	f := newFakeBridge(t)
	f.block = make(chan struct{})
	cfg := `{"jobs":[{"name":"slow","trigger":{"type":"intervalSeconds","value":10},"actions":[{"type":"http_request","data":{"url":"/block"}}]}]}`
	w := startWatch(t, f, cfg, t.TempDir(), Options{})
	armed := w.clock.afterCalls()
	w.clock.Advance(10 * time.Second)
	<-f.entered // the first run is in its request
	// The loop waits for the next tick before the clock moves again: a
	// move that came first was a tick the loop never saw (it failed so
	// once in CI, with both cores busy).
	eventually(t, "the loop to wait for the next tick", func() bool { return w.clock.afterCalls() > armed })

	before := w.clock.afterCalls()
	w.clock.Advance(10 * time.Second)
	eventually(t, "a skipped run", func() bool { return len(runsOf(w.r, "slow")) == 1 })
	// RunOnce meets the running job too.
	rep, err := w.r.RunOnce(context.Background())
	if err != nil || rep.Count(StatusSkipped) != 1 {
		t.Errorf("RunOnce during the run: %+v, %v; want the job skipped", rep.Jobs, err)
	}
	f.release()
	eventually(t, "the first run to end", func() bool { return len(runsOf(w.r, "slow")) == 3 })
	w.settle(before)

	recs := runsOf(w.r, "slow")
	for i, want := range []string{StatusSkipped, StatusSkipped, StatusOK} {
		if recs[i].Status != want {
			t.Errorf("run %d: %+v, want %s", i, recs[i], want)
		}
	}
	if !strings.Contains(recs[0].Reason, "previous run (started 2026-11-29T13:00:10Z) is still running") {
		t.Errorf("skip reason %q", recs[0].Reason)
	}
	if n := f.count("/block"); n != 1 {
		t.Errorf("%d requests, want 1: the job ran twice at once", n)
	}
}

// TestWatchRunsOnlyOnTheLeader: with Options.Lead, jobs fire only while
// this process leads the replicas; a startup job waits for the lead.
func TestWatchRunsOnlyOnTheLeader(t *testing.T) {
	f := newFakeBridge(t)
	var leading atomic.Bool
	cfg := `{"jobs":[
	  {"name":"boot","trigger":{"type":"onStartup"},"actions":[{"type":"send_core_update","data":{"module":"boot","data":{}}}]},
	  {"name":"tick","trigger":{"type":"intervalMinutes","value":1},"actions":[{"type":"send_core_update","data":{"module":"tick","data":{}}}]}]}`
	w := startWatch(t, f, cfg, t.TempDir(), Options{Lead: leading.Load})
	w.advance(3 * time.Minute)
	if n, m := f.updates("boot"), f.updates("tick"); n+m != 0 {
		t.Fatalf("a replica that does not lead ran jobs: boot %d, tick %d", n, m)
	}
	leading.Store(true)
	w.advance(time.Minute)
	eventually(t, "the startup job to run once this replica leads", func() bool { return f.updates("boot") == 1 })
	if n := f.updates("tick"); n != 1 {
		t.Errorf("tick ran %d times in its first minute as leader, want 1", n)
	}
}
