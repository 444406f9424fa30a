package automation

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 13, 0, 0, 0, time.UTC)

// runOnceAuto runs cfg once against f under an auto-advancing clock and
// returns the report and the waits the runner asked for.
func runOnceAuto(t *testing.T, f *fakeBridge, cfg string, jitter func(time.Duration) time.Duration) (Report, []time.Duration) {
	t.Helper()
	clock := newFakeClock(t0)
	clock.auto = true
	r := New(mustParse(t, cfg), Options{APIURL: f.URL, Clock: clock, Jitter: jitter})
	rep, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep, clock.sleeps()
}

func noJitter(time.Duration) time.Duration { return 0 }

const updateJob = `{"jobs":[{"name":"u","actions":[{"type":"send_core_update","data":{"module":"m","data":{"n":1}}}]}]}`

func failWith(code int, header ...string) func(int, http.ResponseWriter, *http.Request) bool {
	return func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, `{"error":{"code":"unavailable","message":"queue full"}}`)
		return true
	}
}

func TestRetryScheduleOneTwoFour(t *testing.T) {
	f := newFakeBridge(t)
	f.answer = failWith(503)
	rep, slept := runOnceAuto(t, f, updateJob, noJitter)
	if want := []time.Duration{time.Second, 2 * time.Second}; !reflect.DeepEqual(slept, want) {
		t.Errorf("waits %v, want %v (3 attempts)", slept, want)
	}
	act := rep.Jobs[0].Actions[0]
	if rep.Failed() != 1 || len(act.Attempts) != 3 || f.count("/core/update") != 3 {
		t.Fatalf("failed %d, attempts %d, requests %d; want 1, 3, 3", rep.Failed(), len(act.Attempts), f.count("/core/update"))
	}
	for i, wantWait := range []float64{1000, 2000, 0} {
		if a := act.Attempts[i]; a.N != i+1 || a.StatusCode != 503 || a.WaitMs != wantWait || !strings.Contains(a.Error, "queue full") {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	// Every attempt carries the same idempotency key, so that an attempt
	// whose answer was lost is stored once by the bridge.
	var keys []string
	for _, s := range f.seen() {
		keys = append(keys, s.Header.Get("Idempotency-Key"))
	}
	if keys[0] == "" || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("idempotency keys %q, want one key on every attempt", keys)
	}

	// With a fourth attempt allowed, the third wait is 4 s.
	_, slept = runOnceAuto(t, f, strings.Replace(updateJob, `"type":"send_core_update"`, `"type":"send_core_update","attempts":4`, 1), noJitter)
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !reflect.DeepEqual(slept, want) {
		t.Errorf("waits with 4 attempts %v, want %v", slept, want)
	}
}

func TestRetryJitterIsAdded(t *testing.T) {
	f := newFakeBridge(t)
	f.answer = failWith(502)
	_, slept := runOnceAuto(t, f, updateJob, nil) // the default jitter
	if len(slept) != 2 || slept[0] < time.Second || slept[0] > 1250*time.Millisecond || slept[1] < 2*time.Second || slept[1] > 2500*time.Millisecond {
		t.Errorf("waits %v, want 1–1.25 s and 2–2.5 s", slept)
	}
	_, slept = runOnceAuto(t, f, updateJob, func(d time.Duration) time.Duration { return d / 10 })
	if want := []time.Duration{1100 * time.Millisecond, 2200 * time.Millisecond}; !reflect.DeepEqual(slept, want) {
		t.Errorf("waits %v, want %v", slept, want)
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	f := newFakeBridge(t)
	f.answer = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			return failWith(429, "Retry-After", "7")(n, w, r)
		}
		return false
	}
	rep, slept := runOnceAuto(t, f, updateJob, noJitter)
	if rep.Failed() != 0 || !reflect.DeepEqual(slept, []time.Duration{7 * time.Second}) {
		t.Errorf("failed %d, waits %v; want success after waiting the 7 s asked for", rep.Failed(), slept)
	}
	// A Retry-After shorter than the backoff does not shorten it; one
	// longer than two minutes is capped.
	f2 := newFakeBridge(t)
	f2.answer = failWith(503, "Retry-After", "3600")
	_, slept = runOnceAuto(t, f2, updateJob, noJitter)
	if want := []time.Duration{maxRetryAfter, maxRetryAfter}; !reflect.DeepEqual(slept, want) {
		t.Errorf("waits %v, want %v", slept, want)
	}
}

func TestRetryRecoversAfterTransientFailures(t *testing.T) {
	f := newFakeBridge(t)
	f.answer = func(n int, w http.ResponseWriter, r *http.Request) bool {
		return n <= 2 && failWith(500)(n, w, r)
	}
	rep, slept := runOnceAuto(t, f, updateJob, noJitter)
	act := rep.Jobs[0].Actions[0]
	if rep.Failed() != 0 || act.Status != StatusOK || len(act.Attempts) != 3 || act.Attempts[2].StatusCode != 200 || len(slept) != 2 {
		t.Errorf("status %s, attempts %+v, waits %v; want ok on the third attempt", act.Status, act.Attempts, slept)
	}
	if act.Response == nil || act.Response.StatusCode != 200 {
		t.Errorf("response %+v, want the 200 answer", act.Response)
	}
}

func TestNoRetryOfPermanentFailures(t *testing.T) {
	for _, code := range []int{400, 401, 404, 422} {
		f := newFakeBridge(t)
		f.answer = failWith(code)
		rep, slept := runOnceAuto(t, f, updateJob, noJitter)
		if n := f.count("/core/update"); n != 1 || len(slept) != 0 || rep.Failed() != 1 {
			t.Errorf("%d: %d requests, waits %v, failed %d; want 1 request, no wait, failed", code, n, slept, rep.Failed())
		}
	}
	// A failed assertion is the answer, not a transient failure.
	f := newFakeBridge(t)
	rep, slept := runOnceAuto(t, f, `{"jobs":[{"name":"h","actions":[{"type":"check_health","data":{"assert":"pending_queue < 10"}}]}]}`, noJitter)
	if f.count("/core/health") != 1 || len(slept) != 0 || rep.Jobs[0].Status != StatusFailed ||
		!strings.Contains(rep.Jobs[0].Reason, `assertion "pending_queue < 10" failed: pending_queue is 42`) {
		t.Errorf("health requests %d, waits %v, job %+v", f.count("/core/health"), slept, rep.Jobs[0].RunRecord)
	}
}

func TestRetryNetworkErrors(t *testing.T) {
	cfg := `{"jobs":[{"name":"down","actions":[{"type":"get_bucket_status"}]}]}`
	clock := newFakeClock(t0)
	clock.auto = true
	// Nothing listens on port 1 of the loopback: every attempt is refused.
	r := New(mustParse(t, cfg), Options{APIURL: "http://127.0.0.1:1", Clock: clock, Jitter: noJitter})
	rep, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	act := rep.Jobs[0].Actions[0]
	if len(act.Attempts) != 3 || act.Attempts[0].StatusCode != 0 || !strings.Contains(act.Error, "refused") {
		t.Errorf("attempts %+v, error %q; want 3 refused attempts", act.Attempts, act.Error)
	}
	if !reflect.DeepEqual(clock.sleeps(), []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("waits %v", clock.sleeps())
	}
}
