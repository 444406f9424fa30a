package deliver

import (
	"context"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
	"corebridge/internal/logtest"
	"corebridge/internal/store/storetest"
)

// stores runs fn against a real SQLite store and against storetest.Mem:
// both keep their leases in memory, and both must survive clock steps.
func stores(t *testing.T, fn func(t *testing.T, st bridge.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newSQLiteStore(t)) })
	t.Run("mem", func(t *testing.T) { fn(t, newStore(t)) })
}

// realBucket starts the reference Bucket on a loopback port.
func realBucket(t *testing.T) *bucket.Client {
	t.Helper()
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	return bucket.NewClient(b.URL)
}

// TestStepBackDoesNotStallDelivery: after the wall clock steps back an
// hour, records accepted before the step (received_at and next_attempt_at
// an hour "in the future") are still delivered at once, retried heads
// included.
func TestStepBackDoesNotStallDelivery(t *testing.T) {
	stores(t, func(t *testing.T, st bridge.Store) {
		clk := newClock()
		client := realBucket(t)
		retried := appendRecs(t, st, clk.Now(), 0, repeat("r", 2)...)
		fresh := appendRecs(t, st, clk.Now(), 0, interleave(3, "a", "b")...)

		// r's head batch fails once: it is due again after a backoff.
		down := true
		s := &fakeSender{SendFn: func(ctx context.Context, recs []bridge.Record) ([]bucket.Result, error) {
			if down {
				return nil, &bucket.StatusError{StatusCode: 503}
			}
			return client.Send(ctx, recs)
		}}
		f := newForwarder(st, s, clk, Config{})
		if !runOnce(t, f) {
			t.Fatal("nothing leased before the step")
		}
		if r := get(t, st, retried[0]); r.Attempts != 1 || !r.NextAttemptAt.After(clk.Now()) {
			t.Fatalf("r's head: %d attempts, due %s: want one failed attempt and a backoff", r.Attempts, r.NextAttemptAt)
		}
		down = false

		clk.Add(-time.Hour) // the wall clock steps back
		drain(t, f)
		for _, id := range append(fresh, retried...) {
			if r := get(t, st, id); r.State != bridge.StateSynced {
				t.Errorf("%s: %s after the clock stepped back an hour, want synced (due %s, now %s)",
					id, r.State, bridge.FormatTime(r.NextAttemptAt), bridge.FormatTime(clk.Now()))
			}
		}
	})
}

// TestStepForwardKeepsLeaseInFlight: a forward step of the wall clock
// longer than the lease TTL does not let a second worker take the batch
// that is still being sent.
func TestStepForwardKeepsLeaseInFlight(t *testing.T) {
	stores(t, func(t *testing.T, st bridge.Store) {
		clk := newClock()
		appendRecs(t, st, clk.Now(), 0, repeat("m", 3)...)
		sending, release := make(chan struct{}), make(chan struct{})
		slow := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
			close(sending)
			<-release
			return storeAll(recs), nil
		}}
		first := newForwarder(st, slow, clk, Config{Owner: "w1", LeaseTTL: time.Minute})
		done := make(chan error, 1)
		go func() { _, err := first.RunOnce(context.Background()); done <- err }()
		<-sending

		clk.Add(2 * time.Hour) // longer than the TTL
		other := &fakeSender{}
		second := newForwarder(st, other, clk, Config{Owner: "w2", LeaseTTL: time.Minute})
		got := runOnce(t, second)
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got || other.sends() != 0 {
			t.Fatalf("a second worker took %v while the first was still sending them: "+
				"a wall-clock step must not expire a lease", other.sent())
		}
	})
}

// TestBreakerProbesAfterStepBack: an open breaker whose clock steps back
// an hour probes at its next turn, not an hour later.
func TestBreakerProbesAfterStepBack(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	b := &Breaker{Threshold: 1, Cooldown: 2 * time.Second}
	b.Failure(now)
	if s, _ := b.State(); s != BreakerOpen {
		t.Fatalf("after a failure: %s, want open", s)
	}
	if !b.ProbeDue(now.Add(-time.Hour)) {
		t.Fatal("no probe after the clock stepped back an hour: delivery would stall for the hour")
	}
	if b.ProbeDue(now.Add(-time.Hour + time.Second)) {
		t.Fatal("a second probe within one cooldown after the step")
	}
}

// TestSlowSendKeepsItsLease: a batch whose send outlasts the lease's TTL
// keeps its module (the forwarder extends the lease while it sends), so a
// second worker does not take the batch, and the slow batch's settle is
// accepted.
func TestSlowSendKeepsItsLease(t *testing.T) {
	stores(t, func(t *testing.T, st bridge.Store) {
		clk := newClock()
		ids := appendRecs(t, st, clk.Now(), 0, repeat("m", 3)...)
		const ttl = 300 * time.Millisecond
		sending, release := make(chan struct{}), make(chan struct{})
		slow := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
			close(sending)
			<-release
			return storeAll(recs), nil
		}}
		first := newForwarder(st, slow, clk, Config{Owner: "w1", LeaseTTL: ttl, Timeout: 10 * time.Second})
		done := make(chan error, 1)
		go func() { _, err := first.RunOnce(context.Background()); done <- err }()
		<-sending
		time.Sleep(4 * ttl) // four TTLs on the store's clock
		other := &fakeSender{}
		second := newForwarder(st, other, clk, Config{Owner: "w2", LeaseTTL: ttl})
		got := runOnce(t, second)
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("the slow batch's settle: %v", err)
		}
		if got || other.sends() != 0 {
			t.Fatalf("a second worker took %v while the first was still sending them", other.sent())
		}
		for _, id := range ids {
			if r := get(t, st, id); r.State != bridge.StateSynced {
				t.Errorf("%s: %s, want synced by the slow batch", id, r.State)
			}
		}
	})
}

// TestLostLeaseIsLoggedAsWarning: a batch whose lease lapsed and was
// taken over before its settle is refused (fenced), logged at WARN (not
// ERROR: nothing is lost), and the records go out under the new lease.
func TestLostLeaseIsLoggedAsWarning(t *testing.T) {
	st := storetest.NewMem()
	clk := newClock()
	ids := appendRecs(t, st, clk.Now(), 0, repeat("m", 2)...)
	sending, release := make(chan struct{}), make(chan struct{})
	slow := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		close(sending)
		<-release
		return storeAll(recs), nil
	}}
	logs := &logtest.Buffer{}
	// A TTL so long that the keeper never runs; the lease is taken over
	// by hand below, as a replica whose lease lapsed would see it.
	first := New(st, slow, logs.Logger(), Config{Owner: "w1", LeaseTTL: time.Hour, Now: clk.Now, Rand: half, Concurrency: 1, Idle: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { first.Run(ctx); close(done) }()
	<-sending
	if n, err := st.ReleaseLeases(context.Background(), "w1"); err != nil || n != 1 {
		t.Fatalf("ReleaseLeases = %d, %v", n, err)
	}
	second := newForwarder(st, &fakeSender{}, clk, Config{Owner: "w2"})
	if !runOnce(t, second) {
		t.Fatal("the second worker found nothing to send")
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for logs.Count(t, "WARN", "delivery: lease lost before its settle") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no WARN for the lost lease:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if n := logs.Count(t, "ERROR", "delivery"); n != 0 {
		t.Errorf("a lost lease logged %d ERROR lines", n)
	}
	for _, id := range ids {
		if r := get(t, st, id); r.State != bridge.StateSynced || r.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts, want synced once (by the second worker)", id, r.State, r.Attempts)
		}
	}
}
