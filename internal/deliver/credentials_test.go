package deliver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// A 401 or 403 for a batch is the bridge's misconfiguration, not the
// records' fault: the breaker opens at once, no record burns an attempt or
// dies, and the status names the cause. A probe that succeeds (the Bucket's
// /healthz is open) leads to one refused trial, which opens it again, still
// with no attempt burned; once the credentials are fixed everything drains.
func TestRefusedCredentialsHoldEverything(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			st, clk := newStore(t), newClock()
			t0 := clk.Now()
			ids := appendRecs(t, st, t0, 0, "m", "m", "n")
			var fixed atomic.Bool
			s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
				if !fixed.Load() {
					return nil, &bucket.StatusError{StatusCode: code, Message: "missing or unknown bearer token"}
				}
				return storeAll(recs), nil
			}}
			var outcomes []Outcome
			f := newForwarder(st, s, clk, Config{BreakerThreshold: 5, BreakerCooldown: time.Second, MaxAttempts: 2,
				OnOutcome: func(o Outcome) { outcomes = append(outcomes, o) }})

			check := func(when string) {
				t.Helper()
				for _, id := range ids {
					r := get(t, st, id)
					if r.State != bridge.StatePending || r.Attempts != 0 {
						t.Errorf("%s: %s is %s with %d attempts; want pending with 0", when, id, r.State, r.Attempts)
					}
				}
				stats, err := st.Stats(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if stats.Dead != 0 {
					t.Errorf("%s: %d dead, want 0", when, stats.Dead)
				}
				status := f.Status()
				if status.Breaker != "open" || !status.BreakerOpened.Equal(t0) {
					t.Errorf("%s: breaker %s since %v, want open since %v", when, status.Breaker, status.BreakerOpened, t0)
				}
				want := fmt.Sprintf("bucket refused our credentials (%d): check --bucket-token-file", code)
				if !strings.HasPrefix(status.LastError, want) {
					t.Errorf("%s: last error %q, want it to start with %q", when, status.LastError, want)
				}
			}

			if !runOnce(t, f) {
				t.Fatal("nothing was delivered")
			}
			check("after the first refusal")
			if runOnce(t, f) || s.sends() != 1 {
				t.Fatalf("an open breaker let a delivery through (%d sends)", s.sends())
			}
			if len(outcomes) != 1 || len(outcomes[0].Dead)+len(outcomes[0].Retried)+len(outcomes[0].Synced) != 0 ||
				outcomes[0].Attempt.HTTPStatus != code || outcomes[0].Attempt.Outcome != bridge.AttemptFailed {
				t.Errorf("outcomes %+v, want one failed attempt naming no record", outcomes)
			}

			// Several probe/trial rounds, more than MaxAttempts: each trial is
			// refused and reopens the breaker, and nothing burns an attempt.
			for round := range 3 {
				clk.Add(time.Second)
				if !f.ProbeOnce(context.Background()) || f.Status().Breaker != "half-open" {
					t.Fatalf("round %d: after a good probe the breaker is %s", round, f.Status().Breaker)
				}
				runOnce(t, f)
				check(fmt.Sprintf("after refused trial %d", round))
			}

			fixed.Store(true)
			clk.Add(time.Second)
			f.ProbeOnce(context.Background())
			drain(t, f)
			for _, id := range ids {
				if r := get(t, st, id); r.State != bridge.StateSynced || r.Attempts != 1 {
					t.Errorf("after the fix: %s is %s with %d attempts; want synced", id, r.State, r.Attempts)
				}
			}
			if status := f.Status(); status.Breaker != "closed" || !status.Reachable {
				t.Errorf("after the fix: status %+v, want closed and reachable", status)
			}
			if got := s.sent(); strings.Join(got["m"][len(got["m"])-2:], ",") != ids[0]+","+ids[1] {
				t.Errorf("order of m: %v", got["m"])
			}
		})
	}
}

// A 404 or 405 for a batch says "wrong endpoint" (a --bucket-url with a
// wrong path, a proxy in front), not "wrong record": the breaker opens at
// once, no record burns an attempt or dies, and the status names the cause.
func TestWrongEndpointHoldsEverything(t *testing.T) {
	for _, code := range []int{http.StatusNotFound, http.StatusMethodNotAllowed} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			st, clk := newStore(t), newClock()
			ids := appendRecs(t, st, clk.Now(), 0, "m", "m", "n")
			s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
				return nil, &bucket.StatusError{StatusCode: code, Message: "404 page not found"}
			}}
			f := newForwarder(st, s, clk, Config{BreakerThreshold: 5, MaxAttempts: 2})
			runOnce(t, f)
			for _, id := range ids {
				if r := get(t, st, id); r.State != bridge.StatePending || r.Attempts != 0 {
					t.Errorf("%s is %s with %d attempts; want pending with 0", id, r.State, r.Attempts)
				}
			}
			status := f.Status()
			if status.Breaker != "open" || !strings.Contains(status.LastError, "--bucket-url") {
				t.Errorf("breaker %s, last error %q; want open, naming --bucket-url", status.Breaker, status.LastError)
			}
			if status.Misconfigured != "bucket URL answers as no Bucket does" {
				t.Errorf("misconfigured %q, want the wrong endpoint named", status.Misconfigured)
			}
		})
	}
}
