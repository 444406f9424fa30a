package deliver

import (
	"context"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/logtest"
)

// A Bucket outage logs one WARN when the breaker opens, with its cause, and
// one INFO when it closes again, however many failures, probes and failed
// trials lie between.
func TestForwarderLogsBreakerOpenAndRecovery(t *testing.T) {
	st, clk := newStore(t), newClock()
	t0 := clk.Now()
	appendRecs(t, st, t0, 0, "m")
	down := true
	s := &fakeSender{
		SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
			if down {
				return nil, &bucket.StatusError{StatusCode: 503, Message: "down for maintenance"}
			}
			return storeAll(recs), nil
		},
		HealthyFn: func(context.Context) error { return nil },
	}
	var logs logtest.Buffer
	f := New(st, s, logs.Logger(), Config{BreakerThreshold: 3, BreakerCooldown: 5 * time.Second,
		BucketURL: "https://bucket.example/ingest", Now: clk.Now, Rand: func() float64 { return 0 }})

	const opened, closed = "bucket unreachable: circuit breaker open", "bucket reachable again"
	for i := range 3 {
		runOnce(t, f)
		if n := len(logs.Lines(t, "WARN", opened)); i < 2 && n != 0 {
			t.Fatalf("after %d failures (threshold 3): %d breaker lines", i+1, n)
		}
	}
	runOnce(t, f) // held back
	// A good probe, a failed trial: the same outage, no second line.
	clk.Set(t0.Add(5 * time.Second))
	f.ProbeOnce(context.Background())
	runOnce(t, f)
	if f.Status().Breaker != "open" {
		t.Fatalf("breaker %s after a failed trial, want open", f.Status().Breaker)
	}
	warns := logs.Lines(t, "WARN", opened)
	if len(warns) != 1 {
		t.Fatalf("%d WARN %q lines, want 1", len(warns), opened)
	}
	w := warns[0]
	if c, _ := w["cause"].(string); !strings.Contains(c, "503") || !strings.Contains(c, "down for maintenance") {
		t.Errorf("cause %q, want the last error", w["cause"])
	}
	if w["threshold"] != float64(3) || w["bucket_url"] != "https://bucket.example/ingest" {
		t.Errorf("breaker line %v, want threshold 3 and the bucket url", w)
	}
	if n := len(logs.Lines(t, "INFO", closed)); n != 0 {
		t.Fatalf("%d recovery lines while the breaker is open", n)
	}

	clk.Set(t0.Add(10 * time.Second))
	down = false
	f.ProbeOnce(context.Background())
	runOnce(t, f)
	appendRecs(t, st, clk.Now(), 1, "m")
	runOnce(t, f)
	if f.Status().Breaker != "closed" {
		t.Fatalf("breaker %s after a good trial, want closed", f.Status().Breaker)
	}
	infos := logs.Lines(t, "INFO", closed)
	if len(infos) != 1 {
		t.Fatalf("%d INFO %q lines, want 1", len(infos), closed)
	}
	if got := infos[0]["open_for"]; got != float64(10*time.Second) {
		t.Errorf("open_for %v, want 10s (in ns)", got)
	}
	if n := len(logs.Lines(t, "WARN", opened)); n != 1 {
		t.Errorf("%d breaker WARN lines after recovery, want still 1", n)
	}
}

// A flood of dead letters gives one WARN per module per interval, and the
// next line counts those held back meanwhile.
func TestForwarderLogsDeadLettersRateLimited(t *testing.T) {
	st, clk := newStore(t), newClock()
	appendRecs(t, st, clk.Now(), 0, repeat("m", 50)...)
	appendRecs(t, st, clk.Now(), 0, "n", "n", "n")
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		out := make([]bucket.Result, len(recs))
		for i, r := range recs {
			out[i] = bucket.Result{ID: r.ID, Status: bucket.StatusRejected, Error: "bad schema"}
		}
		return out, nil
	}}
	var logs logtest.Buffer
	f := New(st, s, logs.Logger(), Config{BatchSize: 10, Now: clk.Now, Rand: half})
	const msg = "records dead-lettered"
	byModule := func() map[string][]map[string]any {
		out := map[string][]map[string]any{}
		for _, l := range logs.Lines(t, "WARN", msg) {
			m, _ := l["module"].(string)
			out[m] = append(out[m], l)
		}
		return out
	}

	if n := drain(t, f); n != 6 {
		t.Fatalf("%d batches, want 6", n)
	}
	got := byModule()
	if len(got["m"]) != 1 || len(got["n"]) != 1 {
		t.Fatalf("lines per module %d (m) %d (n), want 1 each: %v", len(got["m"]), len(got["n"]), got)
	}
	if m := got["m"][0]; m["count"] != float64(10) || !strings.Contains(m["reason"].(string), "bad schema") {
		t.Errorf("first line of m: %v, want count 10 and the reason", m)
	}
	if n := got["n"][0]; n["count"] != float64(3) {
		t.Errorf("line of n: %v, want count 3", n)
	}

	clk.Add(9 * time.Second)
	runOnce(t, f)
	if n := len(byModule()["m"]); n != 1 {
		t.Fatalf("%d lines of m within the interval, want 1", n)
	}
	clk.Add(time.Second)
	runOnce(t, f)
	runOnce(t, f)
	got = byModule()
	if len(got["m"]) != 2 || len(got["n"]) != 1 {
		t.Fatalf("after the interval: %d lines of m, %d of n; want 2 and 1", len(got["m"]), len(got["n"]))
	}
	if m := got["m"][1]; m["count"] != float64(40) {
		t.Errorf("second line of m: %v, want the remaining count 40", m)
	}

	// Much later, one more: logged at once, with its own count.
	clk.Add(time.Minute)
	appendRecs(t, st, clk.Now(), 50, "m")
	runOnce(t, f)
	if got := byModule()["m"]; len(got) != 3 || got[2]["count"] != float64(1) {
		t.Errorf("lines of m after a quiet minute: %v, want a third with count 1", got)
	}
}
