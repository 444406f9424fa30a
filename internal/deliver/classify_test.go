package deliver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// errNetwork is what the client returns when the Bucket is not listening.
var errNetwork = fmt.Errorf("bucket: POST /v1/records: %w",
	&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})

func TestStoredAndDuplicateAreSynced(t *testing.T) {
	st, clk := newStore(t), newClock()
	now := clk.Now()
	ids := appendRecs(t, st, now, 0, "m", "m", "m")
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		return []bucket.Result{
			{ID: recs[0].ID, Status: bucket.StatusStored},
			{ID: recs[1].ID, Status: bucket.StatusDuplicate},
			{ID: recs[2].ID, Status: bucket.StatusStored},
		}, nil
	}}
	f := newForwarder(st, s, clk, Config{})
	if !runOnce(t, f) {
		t.Fatal("RunOnce found nothing to deliver")
	}
	for _, id := range ids {
		r := get(t, st, id)
		if r.State != bridge.StateSynced || !r.SyncedAt.Equal(now) || r.Attempts != 1 || r.LastError != "" {
			t.Errorf("%s: state %s, synced at %s, attempts %d, error %q; want synced at %s, 1 attempt, no error",
				id, r.State, r.SyncedAt, r.Attempts, r.LastError, now)
		}
	}
	first, last := get(t, st, ids[0]), get(t, st, ids[2])
	for _, id := range ids {
		a := attempts(t, st, id)
		if len(a) != 1 {
			t.Fatalf("%s: %d attempts recorded, want 1", id, len(a))
		}
		if a[0].Outcome != bridge.AttemptOK || a[0].HTTPStatus != http.StatusOK || a[0].Error != "" ||
			!a[0].At.Equal(now) || a[0].Module != "m" || a[0].Records != 3 ||
			a[0].FirstSeq != first.Seq || a[0].LastSeq != last.Seq {
			t.Errorf("%s: attempt %+v; want ok, HTTP 200, at %s, 3 records, seq %d..%d", id, a[0], now, first.Seq, last.Seq)
		}
	}
	if st := f.Status(); st.Breaker != "closed" || !st.Reachable || !st.LastOK.Equal(now) {
		t.Errorf("status %+v, want closed, reachable, last ok %s", st, now)
	}
}

func TestRejectedRecordIsDeadOthersSynced(t *testing.T) {
	st, clk := newStore(t), newClock()
	now := clk.Now()
	ids := appendRecs(t, st, now, 0, "m", "m", "m")
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		res := storeAll(recs)
		res[1] = bucket.Result{ID: recs[1].ID, Status: bucket.StatusRejected, Error: "data.temp must be a number"}
		return res, nil
	}}
	f := newForwarder(st, s, clk, Config{})
	runOnce(t, f)

	dead := get(t, st, ids[1])
	if dead.State != bridge.StateDead || dead.LastError != "rejected by the bucket: data.temp must be a number" || dead.Attempts != 1 {
		t.Errorf("rejected record: state %s, error %q, attempts %d; want dead with the bucket's reason", dead.State, dead.LastError, dead.Attempts)
	}
	for _, id := range []string{ids[0], ids[2]} {
		if r := get(t, st, id); r.State != bridge.StateSynced || !r.SyncedAt.Equal(now) {
			t.Errorf("%s: state %s at %s, want synced at %s", id, r.State, r.SyncedAt, now)
		}
	}
	a := attempts(t, st, ids[1])
	if len(a) != 1 || a[0].Outcome != bridge.AttemptPartial || a[0].HTTPStatus != http.StatusOK ||
		a[0].Error != "1 of 3 records rejected: rejected by the bucket: data.temp must be a number" {
		t.Errorf("attempts %+v, want one partial attempt, HTTP 200, naming the rejection", a)
	}
	if runOnce(t, f) {
		t.Error("a dead record was leased again")
	}
}

func TestBatchRefusalDeadLettersTheBatch(t *testing.T) {
	// 404 and 405 say "wrong endpoint", not "wrong records": see
	// TestWrongEndpointHoldsEverything; 413 splits: see TestTooLargeSplitsTheBatch.
	for _, code := range []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			st, clk := newStore(t), newClock()
			ids := appendRecs(t, st, clk.Now(), 0, "m", "m")
			s := &fakeSender{SendFn: func(context.Context, []bridge.Record) ([]bucket.Result, error) {
				return nil, &bucket.StatusError{StatusCode: code, Message: "batch is no good", RetryAfter: time.Minute}
			}}
			f := newForwarder(st, s, clk, Config{BreakerThreshold: 1})
			runOnce(t, f)
			want := fmt.Sprintf("bucket refused the batch: HTTP %d: batch is no good", code)
			for _, id := range ids {
				r := get(t, st, id)
				if r.State != bridge.StateDead || r.LastError != want || r.Attempts != 1 {
					t.Errorf("%s: state %s, error %q, attempts %d; want dead with %q", id, r.State, r.LastError, r.Attempts, want)
				}
			}
			a := attempts(t, st, ids[0])
			if len(a) != 1 || a[0].Outcome != bridge.AttemptRejected || a[0].HTTPStatus != code || a[0].Error != want {
				t.Errorf("attempts %+v, want one rejected attempt with HTTP %d", a, code)
			}
			// The Bucket answered: a refusal is no sign that it is down.
			if st := f.Status(); st.Breaker != "closed" || !st.Reachable {
				t.Errorf("status %+v, want the breaker closed and the bucket reachable", st)
			}
			if runOnce(t, f) || s.sends() != 1 {
				t.Errorf("dead records were sent again (%d sends)", s.sends())
			}
		})
	}
}

func TestTransientFailureIsRetriedWithBackoff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		reason string // the last error, when not err's text
	}{
		{"408", &bucket.StatusError{StatusCode: http.StatusRequestTimeout, Message: "slow"}, 408, ""},
		{"429", &bucket.StatusError{StatusCode: http.StatusTooManyRequests, Message: "slow down"}, 429, ""},
		{"500", &bucket.StatusError{StatusCode: http.StatusInternalServerError, Message: "oops"}, 500, ""},
		{"503", &bucket.StatusError{StatusCode: http.StatusServiceUnavailable, Message: "later"}, 503, ""},
		{"network error", errNetwork, 0, ""},
		{"timeout", fmt.Errorf("bucket: POST /v1/records: %w", context.DeadlineExceeded), 0,
			"no answer within --delivery-timeout 30s: bucket: POST /v1/records: context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.reason
			if want == "" {
				want = tc.err.Error()
			}
			st, clk := newStore(t), newClock()
			t0 := clk.Now()
			ids := appendRecs(t, st, t0, 0, "m", "m")
			fail := tc.err
			s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
				if fail != nil {
					return nil, fail
				}
				return storeAll(recs), nil
			}}
			f := newForwarder(st, s, clk, Config{}) // base 1 s, draw 0.5

			check := func(attempt int, due time.Time) {
				t.Helper()
				for _, id := range ids {
					r := get(t, st, id)
					if r.State != bridge.StatePending || r.Attempts != attempt || !r.NextAttemptAt.Equal(due) || r.LastError != want {
						t.Fatalf("after attempt %d, %s: state %s, attempts %d, next %s, error %q; want pending, %d, %s, %q",
							attempt, id, r.State, r.Attempts, r.NextAttemptAt, r.LastError, attempt, due, want)
					}
				}
			}
			runOnce(t, f)
			due1 := t0.Add(500 * time.Millisecond) // 0.5 · 1 s
			check(1, due1)
			a := attempts(t, st, ids[0])
			if len(a) != 1 || a[0].Outcome != bridge.AttemptFailed || a[0].HTTPStatus != tc.status || a[0].Error != want {
				t.Fatalf("attempts %+v, want one failed attempt with HTTP status %d", a, tc.status)
			}
			if st := f.Status(); st.Reachable != (tc.status != 0) || st.LastError != want {
				t.Errorf("status %+v: reachable should be %v", st, tc.status != 0)
			}

			clk.Set(due1.Add(-time.Microsecond))
			if runOnce(t, f) || s.sends() != 1 {
				t.Fatalf("leased before it was due (%d sends)", s.sends())
			}
			clk.Set(due1)
			if !runOnce(t, f) || s.sends() != 2 {
				t.Fatalf("not leased when due (%d sends)", s.sends())
			}
			due2 := due1.Add(time.Second) // 0.5 · 2 s
			check(2, due2)

			clk.Set(due2.Add(-time.Microsecond))
			if runOnce(t, f) {
				t.Fatal("leased before the second retry was due")
			}
			clk.Set(due2)
			fail = nil
			runOnce(t, f)
			for _, id := range ids {
				if r := get(t, st, id); r.State != bridge.StateSynced || r.Attempts != 3 || !r.SyncedAt.Equal(due2) {
					t.Errorf("%s: state %s, attempts %d, synced %s; want synced on the 3rd attempt at %s", id, r.State, r.Attempts, r.SyncedAt, due2)
				}
			}
		})
	}
}

func TestRetryAfterIsAFloorOn429And503(t *testing.T) {
	for _, tc := range []struct {
		name       string
		code       int
		retryAfter time.Duration
		want       time.Duration
	}{
		{"429 waits as asked", 429, 7 * time.Second, 7 * time.Second},
		{"503 waits as asked", 503, 7 * time.Second, 7 * time.Second},
		{"500 ignores it", 500, 7 * time.Second, 500 * time.Millisecond},
		{"429 asking less than the backoff", 429, 100 * time.Millisecond, 500 * time.Millisecond},
		// Every due time stays within the lease's MaxWait, beyond which a
		// due time counts as a clock step.
		{"503 asking for a day waits MaxRetryAfter", 503, 24 * time.Hour, DefaultMaxRetryAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, clk := newStore(t), newClock()
			ids := appendRecs(t, st, clk.Now(), 0, "m")
			s := &fakeSender{SendFn: func(context.Context, []bridge.Record) ([]bucket.Result, error) {
				return nil, &bucket.StatusError{StatusCode: tc.code, RetryAfter: tc.retryAfter}
			}}
			runOnce(t, newForwarder(st, s, clk, Config{}))
			r := get(t, st, ids[0])
			if want := clk.Now().Add(tc.want); !r.NextAttemptAt.Equal(want) {
				t.Errorf("next attempt at %s, want %s (now + %s)", r.NextAttemptAt, want, tc.want)
			}
		})
	}
}

func TestMaxAttemptsDeadLetters(t *testing.T) {
	st, clk := newStore(t), newClock()
	ids := appendRecs(t, st, clk.Now(), 0, "m")
	boom := &bucket.StatusError{StatusCode: 503, Message: "down"}
	s := &fakeSender{SendFn: func(context.Context, []bridge.Record) ([]bucket.Result, error) { return nil, boom }}
	f := newForwarder(st, s, clk, Config{MaxAttempts: 3})
	for attempt := 1; attempt <= 3; attempt++ {
		if !runOnce(t, f) {
			t.Fatalf("attempt %d: nothing leased", attempt)
		}
		r := get(t, st, ids[0])
		if r.Attempts != attempt {
			t.Fatalf("attempts = %d, want %d", r.Attempts, attempt)
		}
		if attempt < 3 {
			if r.State != bridge.StatePending {
				t.Fatalf("after attempt %d: %s, want pending", attempt, r.State)
			}
			clk.Set(r.NextAttemptAt)
			continue
		}
		if want := "gave up after 3 attempts: " + boom.Error(); r.State != bridge.StateDead || r.LastError != want {
			t.Fatalf("after attempt 3: %s %q, want dead %q", r.State, r.LastError, want)
		}
	}
	if len(attempts(t, st, ids[0])) != 3 {
		t.Error("want 3 attempts recorded")
	}
	clk.Add(time.Hour)
	if runOnce(t, f) {
		t.Error("a dead record was leased again")
	}
}

func TestMaxAgeDeadLetters(t *testing.T) {
	st, clk := newStore(t), newClock()
	now := clk.Now()
	old := appendRecs(t, st, now.Add(-2*time.Hour), 0, "m")[0]
	fresh := appendRecs(t, st, now, 1, "m")[0]
	s := &fakeSender{SendFn: func(context.Context, []bridge.Record) ([]bucket.Result, error) { return nil, errNetwork }}
	var outs []Outcome
	f := newForwarder(st, s, clk, Config{MaxAge: time.Hour, OnOutcome: func(o Outcome) { outs = append(outs, o) }})
	runOnce(t, f)

	r := get(t, st, old)
	if want := "gave up after 2h0m0s (max age 1h0m0s): " + errNetwork.Error(); r.State != bridge.StateDead || r.LastError != want || r.Attempts != 1 {
		t.Errorf("old record: %s %q after %d attempts, want dead %q after 1", r.State, r.LastError, r.Attempts, want)
	}
	r = get(t, st, fresh)
	if r.State != bridge.StatePending || r.Attempts != 1 || !r.NextAttemptAt.Equal(now.Add(500*time.Millisecond)) {
		t.Errorf("fresh record: %s, %d attempts, next %s; want pending, retried in 500ms", r.State, r.Attempts, r.NextAttemptAt)
	}
	if len(outs) != 1 || len(outs[0].Dead) != 1 || outs[0].Dead[0].ID != old || len(outs[0].Retried) != 1 || outs[0].Retried[0].ID != fresh {
		t.Errorf("outcomes %+v, want one with the old record dead and the fresh one retried", outs)
	}
}

func TestMissingResultIsRetried(t *testing.T) {
	st, clk := newStore(t), newClock()
	now := clk.Now()
	ids := appendRecs(t, st, now, 0, "m", "m", "m")
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		res := storeAll(recs)
		return []bucket.Result{res[0], res[2]}, nil // none for the middle one
	}}
	f := newForwarder(st, s, clk, Config{})
	runOnce(t, f)
	for _, id := range []string{ids[0], ids[2]} {
		if r := get(t, st, id); r.State != bridge.StateSynced {
			t.Errorf("%s: %s, want synced", id, r.State)
		}
	}
	r := get(t, st, ids[1])
	if r.State != bridge.StatePending || r.Attempts != 1 || !r.NextAttemptAt.Equal(now.Add(500*time.Millisecond)) ||
		r.LastError != "bucket answered no result for the record" {
		t.Errorf("record without a result: %s, %d attempts, next %s, error %q; want pending, retried in 500ms",
			r.State, r.Attempts, r.NextAttemptAt, r.LastError)
	}
	clk.Set(r.NextAttemptAt)
	s.SendFn = nil
	runOnce(t, f)
	if r := get(t, st, ids[1]); r.State != bridge.StateSynced {
		t.Errorf("after the retry: %s, want synced", r.State)
	}
	if got := s.batches[1]; len(got) != 1 || got[0].ID != ids[1] {
		t.Errorf("retry sent %d records, want only %s", len(got), ids[1])
	}
}

// A record that is retried keeps its own reason as last_error, even when
// another record of the same batch was rejected.
func TestMissingResultBesideARejectionKeepsItsReason(t *testing.T) {
	st, clk := newStore(t), newClock()
	ids := appendRecs(t, st, clk.Now(), 0, "m", "m", "m")
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		return []bucket.Result{
			{ID: recs[0].ID, Status: bucket.StatusStored},
			{ID: recs[1].ID, Status: bucket.StatusRejected, Error: "bad"},
		}, nil
	}}
	runOnce(t, newForwarder(st, s, clk, Config{}))
	if r := get(t, st, ids[1]); r.State != bridge.StateDead || r.LastError != "rejected by the bucket: bad" {
		t.Errorf("rejected: %s %q", r.State, r.LastError)
	}
	if r := get(t, st, ids[2]); r.State != bridge.StatePending || r.LastError != "bucket answered no result for the record" {
		t.Errorf("missing: %s %q, want pending with its own reason", r.State, r.LastError)
	}
}

func TestOnOutcomeOncePerSettledAttempt(t *testing.T) {
	st, clk := newStore(t), newClock()
	now := clk.Now()
	appendRecs(t, st, now, 0, "a", "a", "a")
	appendRecs(t, st, now, 0, "b", "b")
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		switch recs[0].Module {
		case "a":
			res := storeAll(recs)
			res[1].Status, res[1].Error = bucket.StatusRejected, "no"
			return res, nil
		default:
			return nil, errors.New("connection reset")
		}
	}}
	var outs []Outcome
	f := newForwarder(st, s, clk, Config{OnOutcome: func(o Outcome) { outs = append(outs, o) }})
	if n := drain(t, f); n != 2 {
		t.Fatalf("%d batches settled, want 2", n)
	}
	if len(outs) != 2 {
		t.Fatalf("OnOutcome called %d times, want 2", len(outs))
	}
	ids := func(recs []bridge.Record) string {
		var s []string
		for _, r := range recs {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	a, b := outs[0], outs[1]
	if ids(a.Synced) != "a-0000,a-0002" || ids(a.Dead) != "a-0001" || len(a.Retried) != 0 || a.Attempt.Outcome != bridge.AttemptPartial {
		t.Errorf("module a: synced %q dead %q retried %d (%s)", ids(a.Synced), ids(a.Dead), len(a.Retried), a.Attempt.Outcome)
	}
	if a.Dead[0].LastError != "rejected by the bucket: no" {
		t.Errorf("dead record's reason %q", a.Dead[0].LastError)
	}
	if len(b.Synced) != 0 || len(b.Dead) != 0 || ids(b.Retried) != "b-0000,b-0001" ||
		!b.RetryAt.Equal(now.Add(500*time.Millisecond)) || b.Attempt.Outcome != bridge.AttemptFailed {
		t.Errorf("module b: synced %d dead %d retried %q at %s (%s)", len(b.Synced), len(b.Dead), ids(b.Retried), b.RetryAt, b.Attempt.Outcome)
	}
	if runOnce(t, f) || len(outs) != 2 {
		t.Errorf("OnOutcome called without an attempt (%d calls)", len(outs))
	}
}

// Every record of a batch rejected one by one: the attempt is rejected,
// not partial (nothing of it was stored).
func TestAllRecordsRejectedIsNotPartial(t *testing.T) {
	st, clk := newStore(t), newClock()
	ids := appendRecs(t, st, clk.Now(), 0, "m", "m", "m")
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		res := make([]bucket.Result, len(recs))
		for i, r := range recs {
			res[i] = bucket.Result{ID: r.ID, Status: bucket.StatusRejected, Error: "no"}
		}
		return res, nil
	}}
	runOnce(t, newForwarder(st, s, clk, Config{}))
	a := attempts(t, st, ids[0])
	if len(a) != 1 || a[0].Outcome != bridge.AttemptRejected || a[0].Error != "3 of 3 records rejected: rejected by the bucket: no" {
		t.Errorf("attempts %+v, want one rejected attempt naming 3 of 3", a)
	}
}
