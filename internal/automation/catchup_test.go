package automation

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeState leaves the state file a runner stopped at last would leave.
func writeState(t *testing.T, dir string, last map[string]time.Time) {
	t.Helper()
	doc := stateDoc{Jobs: map[string]jobState{}}
	for job, at := range last {
		doc.Jobs[job] = jobState{LastRun: at}
	}
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(filepath.Join(dir, stateFileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatchCatchUp(t *testing.T) {
	for _, policy := range []string{CatchUpSkip, CatchUpOnce} {
		t.Run(policy, func(t *testing.T) {
			f := newFakeBridge(t)
			dir := t.TempDir()
			// every5 last ran at 12:42 and missed 12:47, 12:52, 12:57;
			// cron10 (minutes 5, 15, …) last ran at 12:31 and missed
			// 12:35, 12:45, 12:55.
			writeState(t, dir, map[string]time.Time{"every5": t0.Add(-18 * time.Minute), "cron10": t0.Add(-29 * time.Minute)})
			cfg := `{"jobs":[
			  {"name":"every5","trigger":{"type":"intervalMinutes","value":5},"catchUp":"` + policy + `",
			   "actions":[{"type":"send_core_update","data":{"module":"every5","data":{}}}]},
			  {"name":"cron10","trigger":{"type":"cron","value":"5-59/10 * * * *","timezone":"UTC"},"catchUp":"` + policy + `",
			   "actions":[{"type":"send_core_update","data":{"module":"cron10","data":{}}}]},
			  {"name":"fresh","trigger":{"type":"intervalMinutes","value":5},"catchUp":"once",
			   "actions":[{"type":"send_core_update","data":{"module":"fresh","data":{}}}]}]}`
			w := startWatch(t, f, cfg, dir, Options{})

			wantNow := map[string]int{CatchUpSkip: 0, CatchUpOnce: 1}[policy]
			for _, job := range []string{"every5", "cron10"} {
				if n := f.updates(job); n != wantNow {
					t.Errorf("%s ran %d times at start, want %d", job, n, wantNow)
				}
				recs := runsOf(w.r, job)
				if len(recs) != 1 {
					t.Fatalf("%s: %d run records at start, want 1: %+v", job, len(recs), recs)
				}
				rec := recs[0]
				if !strings.HasPrefix(rec.Trigger, "catchUp "+policy+": 3 run(s) missed since") {
					t.Errorf("%s trigger %q", job, rec.Trigger)
				}
				wantStatus := map[string]string{CatchUpSkip: StatusSkipped, CatchUpOnce: StatusOK}[policy]
				if rec.Status != wantStatus || policy == CatchUpSkip && !strings.Contains(rec.Reason, "catchUp is skip") {
					t.Errorf("%s record %+v, want %s", job, rec, wantStatus)
				}
			}
			// A job with no last run has missed nothing.
			if n := f.updates("fresh"); n != 0 || len(runsOf(w.r, "fresh")) != 0 {
				t.Errorf("a job never run before was caught up (%d runs)", n)
			}

			// After the catch-up the jobs keep their rhythm: every5 at
			// 13:02 (12:42 + 20 min), cron10 at 13:05.
			w.advance(time.Minute + 59*time.Second)
			if n := f.updates("every5"); n != wantNow {
				t.Errorf("every5 ran %d times by 13:01:59, want %d", n, wantNow)
			}
			w.advance(time.Second)
			if n := f.updates("every5"); n != wantNow+1 {
				t.Errorf("every5 ran %d times by 13:02, want %d", n, wantNow+1)
			}
			w.advance(3 * time.Minute)
			if n := f.updates("cron10"); n != wantNow+1 {
				t.Errorf("cron10 ran %d times by 13:05, want %d", n, wantNow+1)
			}
			if err := w.stop(); err != nil {
				t.Fatal(err)
			}

			// The state file now holds the last slots, for the next start.
			r2 := New(mustParse(t, cfg), Options{ReportsDir: dir})
			if err := r2.loadState(); err != nil {
				t.Fatal(err)
			}
			if last, _ := r2.lastRun("cron10"); !last.Equal(t0.Add(5 * time.Minute)) {
				t.Errorf("state: cron10 last ran %v, want %v", last, t0.Add(5*time.Minute))
			}
		})
	}
}

func TestShutdownLetsTheActionInFlightFinish(t *testing.T) {
	f := newFakeBridge(t)
	f.block = make(chan struct{})
	cfg := mustParse(t, `{"jobs":[{"name":"two","actions":[
	  {"type":"http_request","data":{"url":"/block"}},
	  {"type":"send_core_update","data":{"module":"m","data":{}}}]}]}`)
	r := New(cfg, Options{APIURL: f.URL, Clock: newFakeClock(t0)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Report, 1)
	go func() {
		rep, _ := r.RunOnce(ctx)
		done <- rep
	}()
	<-f.entered
	cancel() // SIGTERM while the first action's request is in flight
	select {
	case <-done:
		t.Fatal("RunOnce returned while its action was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	f.release()
	rep := <-done
	j := rep.Jobs[0]
	if len(j.Actions) != 1 || j.Actions[0].Status != StatusOK || j.Actions[0].Response.StatusCode != 200 {
		t.Fatalf("actions %+v, want the request in flight answered and ok", j.Actions)
	}
	if j.Status != StatusFailed || j.FailedAction != "actions[1] send_core_update" || !strings.Contains(j.Reason, "stopping") {
		t.Errorf("job %+v, want failed before actions[1] because the runner stopped", j.RunRecord)
	}
	if n := f.count("/core/update"); n != 0 {
		t.Errorf("%d updates sent after shutdown began", n)
	}
}

func TestWatchShutdownWaitsForTheRunningJob(t *testing.T) {
	f := newFakeBridge(t)
	f.block = make(chan struct{})
	cfg := `{"jobs":[{"name":"boot","trigger":{"type":"onStartup"},"actions":[{"type":"http_request","data":{"url":"/block"}}]}]}`
	clock := newFakeClock(t0)
	r := New(mustParse(t, cfg), Options{APIURL: f.URL, Clock: clock})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-f.entered
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a job was running", err)
	case <-time.After(50 * time.Millisecond):
	}
	f.release()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if recs := runsOf(r, "boot"); len(recs) != 1 || recs[0].Status != StatusOK {
		t.Errorf("runs %+v, want the running job finished ok", recs)
	}
}
