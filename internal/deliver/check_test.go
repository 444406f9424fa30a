package deliver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// A forwarder starts knowing nothing of the Bucket: it asks /healthz
// before it charges any record, and a Bucket that does not answer opens
// the breaker with no attempt burned.
func TestStartAgainstDeadBucketChargesNoRecord(t *testing.T) {
	st, clk := newStore(t), newClock()
	ids := appendRecs(t, st, clk.Now(), 0, "m", "n")
	s := &fakeSender{
		SendFn:    func(context.Context, []bridge.Record) ([]bucket.Result, error) { return nil, errNetwork },
		HealthyFn: func(context.Context) error { return errNetwork },
	}
	f := newForwarder(st, s, clk, Config{BreakerThreshold: 5})
	t0 := clk.Now()
	runOnce(t, f)
	if s.sends() != 0 {
		t.Fatalf("%d sends to a Bucket whose /healthz fails, want none", s.sends())
	}
	for _, id := range ids {
		if r := get(t, st, id); r.Attempts != 0 {
			t.Errorf("%s burned %d attempts", id, r.Attempts)
		}
	}
	status := f.Status()
	if status.Breaker != "open" || status.Reachable || !status.FailingSince.Equal(t0) ||
		!strings.Contains(status.LastError, "GET /healthz") {
		t.Errorf("status %+v, want open, unreachable since %s, naming /healthz", status, t0)
	}
}

// After a transient failure the forwarder asks /healthz before the next
// delivery; the outage is dated from that first failure, not from when
// the breaker opened, and a good delivery clears it.
func TestFailingSinceIsTheFirstFailure(t *testing.T) {
	st, clk := newStore(t), newClock()
	ids := appendRecs(t, st, clk.Now(), 0, "m")
	healthy := error(nil)
	down := true
	s := &fakeSender{
		SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
			if down {
				return nil, errNetwork
			}
			return storeAll(recs), nil
		},
		HealthyFn: func(context.Context) error { return healthy },
	}
	f := newForwarder(st, s, clk, Config{BreakerThreshold: 5, BreakerCooldown: time.Second, Rand: func() float64 { return 0 }})
	t0 := clk.Now()
	runOnce(t, f) // the check answers; the delivery fails
	if r := get(t, st, ids[0]); r.Attempts != 1 {
		t.Fatalf("record has %d attempts, want 1", r.Attempts)
	}
	if s := f.Status(); s.Breaker != "closed" || s.Reachable || !s.FailingSince.Equal(t0) {
		t.Fatalf("after one failure: %+v, want closed, unreachable since %s", s, t0)
	}
	healthy = errors.New("connection refused")
	t1 := clk.Add(3 * time.Second)
	if runOnce(t, f) || s.sends() != 1 {
		t.Fatalf("delivered after a failed check (%d sends)", s.sends())
	}
	status := f.Status()
	if status.Breaker != "open" || !status.BreakerOpened.Equal(t1) || !status.FailingSince.Equal(t0) {
		t.Fatalf("after the failed check: %+v, want open since %s, failing since %s", status, t1, t0)
	}
	if r := get(t, st, ids[0]); r.Attempts != 1 {
		t.Errorf("the failed check charged the record: %d attempts", r.Attempts)
	}
	healthy, down = nil, false
	clk.Add(time.Second)
	f.ProbeOnce(context.Background())
	runOnce(t, f)
	if s := f.Status(); s.Breaker != "closed" || !s.FailingSince.IsZero() || !s.Reachable {
		t.Errorf("after recovery: %+v, want closed, reachable, no outage", s)
	}
}
