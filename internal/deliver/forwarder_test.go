package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
)

// interleave returns the module names n times round-robin: a b a b ...
func interleave(n int, modules ...string) []string {
	var out []string
	for range n {
		out = append(out, modules...)
	}
	return out
}

// byModule groups ids (named "<module>-<n>") by module, keeping their order.
func byModule(ids []string) map[string][]string {
	out := map[string][]string{}
	for _, id := range ids {
		m, _, _ := strings.Cut(id, "-")
		out[m] = append(out[m], id)
	}
	return out
}

func TestPerModuleOrderAcrossBatches(t *testing.T) {
	st, clk := newStore(t), newClock()
	ids := appendRecs(t, st, clk.Now(), 0, interleave(10, "a", "b")...)
	s := &fakeSender{}
	f := newForwarder(st, s, clk, Config{BatchSize: 3})
	if n := drain(t, f); n != 8 { // 10 records of each module: 3+3+3+1, twice
		t.Errorf("%d batches, want 8", n)
	}
	for i, b := range s.batches {
		if len(b) == 0 || len(b) > 3 {
			t.Errorf("batch %d has %d records, want 1..3", i, len(b))
		}
		for _, r := range b {
			if r.Module != b[0].Module {
				t.Errorf("batch %d mixes modules %s and %s", i, b[0].Module, r.Module)
			}
		}
	}
	want := byModule(ids)
	got := s.sent()
	for _, m := range []string{"a", "b"} {
		if !slices.Equal(got[m], want[m]) {
			t.Errorf("module %s sent as %v, want %v", m, got[m], want[m])
		}
	}
	for _, id := range ids {
		if r := get(t, st, id); r.State != bridge.StateSynced {
			t.Errorf("%s: %s, want synced", id, r.State)
		}
	}
}

func TestFailingHeadBlocksOnlyItsModule(t *testing.T) {
	st, clk := newStore(t), newClock()
	ids := appendRecs(t, st, clk.Now(), 0, interleave(6, "a", "b")...)
	want := byModule(ids)
	failA := true
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		if recs[0].Module == "a" && failA {
			failA = false
			return nil, &bucket.StatusError{StatusCode: 503}
		}
		return storeAll(recs), nil
	}}
	f := newForwarder(st, s, clk, Config{BatchSize: 3})
	drain(t, f)

	got := s.sent()
	if !slices.Equal(got["b"], want["b"]) {
		t.Errorf("module b sent %v while a was failing, want all of it in order: %v", got["b"], want["b"])
	}
	if !slices.Equal(got["a"], want["a"][:3]) {
		t.Fatalf("module a sent %v, want only its failed first batch %v: its later records must wait", got["a"], want["a"][:3])
	}
	head := get(t, st, want["a"][0])
	if head.State != bridge.StatePending || head.Attempts != 1 {
		t.Fatalf("a's head: %s after %d attempts, want pending after 1", head.State, head.Attempts)
	}
	for _, id := range want["a"][3:] {
		if r := get(t, st, id); r.Attempts != 0 || r.State != bridge.StatePending {
			t.Errorf("%s: %s after %d attempts, want untouched behind the failing head", id, r.State, r.Attempts)
		}
	}

	clk.Set(head.NextAttemptAt)
	drain(t, f)
	got = s.sent()
	if wantA := append(slices.Clone(want["a"][:3]), want["a"]...); !slices.Equal(got["a"], wantA) {
		t.Errorf("module a sent %v, want %v", got["a"], wantA)
	}
	for _, id := range ids {
		if r := get(t, st, id); r.State != bridge.StateSynced {
			t.Errorf("%s: %s, want synced", id, r.State)
		}
	}
}

func TestBatchSizeBoundsSend(t *testing.T) {
	st, clk := newStore(t), newClock()
	appendRecs(t, st, clk.Now(), 0, repeat("m", 10)...)
	s := &fakeSender{}
	drain(t, newForwarder(st, s, clk, Config{BatchSize: 4}))
	var sizes []int
	for _, b := range s.batches {
		sizes = append(sizes, len(b))
	}
	if !slices.Equal(sizes, []int{4, 4, 2}) {
		t.Errorf("batch sizes %v, want [4 4 2]", sizes)
	}
}

func TestBatchBytesBoundsSend(t *testing.T) {
	st, clk := newStore(t), newClock()
	// data of exactly n bytes: {"p":"xxx…"}
	data := func(n int) json.RawMessage {
		return json.RawMessage(`{"p":"` + strings.Repeat("x", n-8) + `"}`)
	}
	sizes := []int{100, 100, 100, 100, 100, 300, 100}
	var recs []bridge.NewRecord
	for i, n := range sizes {
		recs = append(recs, bridge.NewRecord{ID: fmt.Sprintf("m-%04d", i), Module: "m", SessionID: "s",
			Data: data(n), ReceivedAt: clk.Now()})
		if len(recs[i].Data) != n {
			t.Fatalf("data of %d bytes, want %d", len(recs[i].Data), n)
		}
	}
	if _, err := st.Append(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	s := &fakeSender{}
	drain(t, newForwarder(st, s, clk, Config{BatchSize: 100, BatchBytes: 250}))
	var got []string
	for _, b := range s.batches {
		total, ids := 0, []string{}
		for _, r := range b {
			total += len(r.Data)
			ids = append(ids, r.ID)
		}
		if len(b) > 1 && total > 250 {
			t.Errorf("batch %v holds %d bytes, over the bound of 250", ids, total)
		}
		got = append(got, strings.Join(ids, ","))
	}
	// A record larger than the bound still goes, alone.
	want := []string{"m-0000,m-0001", "m-0002,m-0003", "m-0004", "m-0005", "m-0006"}
	if !slices.Equal(got, want) {
		t.Errorf("batches %q, want %q", got, want)
	}
}

func TestForwarderBreakerHoldsDeliveriesUntilProbeAndTrial(t *testing.T) {
	st, clk := newStore(t), newClock()
	t0 := clk.Now()
	ids := appendRecs(t, st, t0, 0, "m")
	down := true
	s := &fakeSender{
		SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
			if down {
				return nil, &bucket.StatusError{StatusCode: 503, Message: "down"}
			}
			return storeAll(recs), nil
		},
	}
	// /healthz answers while /v1/records fails: the checks before each
	// delivery let it go, and the failures of deliveries open the breaker.
	var healthy error
	s.HealthyFn = func(context.Context) error { return healthy }
	// A draw of 0 makes every retry due at once, so only the breaker holds
	// deliveries back.
	f := newForwarder(st, s, clk, Config{BreakerThreshold: 3, BreakerCooldown: 5 * time.Second,
		Rand: func() float64 { return 0 }})

	for i := range 3 {
		if !runOnce(t, f) {
			t.Fatalf("failure %d: nothing sent", i+1)
		}
		if i < 2 && f.Status().Breaker != "closed" {
			t.Fatalf("after %d failures the breaker is %s, want closed", i+1, f.Status().Breaker)
		}
	}
	if st := f.Status(); st.Breaker != "open" || st.Reachable || !st.BreakerOpened.Equal(t0) {
		t.Fatalf("after 3 failures: %+v; want open since %s, unreachable", st, t0)
	}
	if runOnce(t, f) || s.sends() != 3 {
		t.Fatalf("an open breaker let a delivery through (%d sends)", s.sends())
	}
	// One check at start and one after each failure but the last.
	checks := s.probeCount()
	if checks != 3 {
		t.Fatalf("%d checks of /healthz before the breaker opened, want 3", checks)
	}
	healthy = errors.New("connection refused")

	clk.Set(t0.Add(4 * time.Second))
	if f.ProbeOnce(context.Background()) || s.probeCount() != checks {
		t.Fatalf("probed before the cooldown (%d probes)", s.probeCount())
	}
	clk.Set(t0.Add(5 * time.Second))
	if !f.ProbeOnce(context.Background()) || s.probeCount() != checks+1 {
		t.Fatalf("no probe after the cooldown (%d probes)", s.probeCount())
	}
	if f.Status().Breaker != "open" || runOnce(t, f) {
		t.Fatalf("a failed probe must keep the breaker open; it is %s", f.Status().Breaker)
	}
	clk.Set(t0.Add(6 * time.Second))
	if f.ProbeOnce(context.Background()) || s.probeCount() != checks+1 {
		t.Fatal("probed again within one cooldown of the last probe")
	}

	// A good probe half-opens; the trial fails and opens it again.
	clk.Set(t0.Add(10 * time.Second))
	healthy = nil
	if !f.ProbeOnce(context.Background()) || f.Status().Breaker != "half-open" {
		t.Fatalf("after a good probe: %s, want half-open", f.Status().Breaker)
	}
	if !runOnce(t, f) || s.sends() != 4 {
		t.Fatalf("half-open sent no trial (%d sends)", s.sends())
	}
	if st := f.Status(); st.Breaker != "open" || !st.BreakerOpened.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("after a failed trial: %+v, want open again", st)
	}
	if runOnce(t, f) {
		t.Fatal("delivery after a failed trial")
	}

	// The next good probe and a good trial close it.
	clk.Set(t0.Add(15 * time.Second))
	down = false
	if !f.ProbeOnce(context.Background()) || s.probeCount() != checks+3 {
		t.Fatalf("no probe one cooldown after the failed trial (%d probes)", s.probeCount())
	}
	if !runOnce(t, f) || s.sends() != 5 {
		t.Fatalf("no trial (%d sends)", s.sends())
	}
	if st := f.Status(); st.Breaker != "closed" || !st.Reachable || !st.BreakerOpened.IsZero() {
		t.Fatalf("after a good trial: %+v, want closed and reachable", st)
	}
	if r := get(t, st, ids[0]); r.State != bridge.StateSynced || r.Attempts != 5 {
		t.Errorf("record: %s after %d attempts, want synced after 5", r.State, r.Attempts)
	}
	if f.ProbeOnce(context.Background()) {
		t.Error("probed while closed")
	}
	appendRecs(t, st, clk.Now(), 1, "m", "m")
	if !runOnce(t, f) || s.sends() != 6 {
		t.Error("a closed breaker held a delivery back")
	}
}

// Half-open admits one trial: while it is in flight, no other delivery
// starts, even of another module.
func TestBreakerHalfOpenAdmitsOneTrial(t *testing.T) {
	st, clk := newStore(t), newClock()
	appendRecs(t, st, clk.Now(), 0, "a", "b")
	entered, release := make(chan struct{}), make(chan struct{})
	fail := true
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		if fail {
			return nil, errNetwork
		}
		if recs[0].Module == "a" { // the trial: hold it in flight
			entered <- struct{}{}
			<-release
		}
		return storeAll(recs), nil
	}}
	f := newForwarder(st, s, clk, Config{BreakerThreshold: 1, BreakerCooldown: time.Second,
		Rand: func() float64 { return 0 }})
	runOnce(t, f) // opens
	fail = false
	clk.Add(time.Second)
	if !f.ProbeOnce(context.Background()) {
		t.Fatal("no probe")
	}
	done := make(chan bool)
	go func() {
		did, _ := f.RunOnce(context.Background())
		done <- did
	}()
	<-entered
	if runOnce(t, f) {
		t.Error("a second delivery started while the trial was in flight")
	}
	close(release)
	if !<-done {
		t.Error("the trial reported nothing delivered")
	}
	if f.Status().Breaker != "closed" {
		t.Errorf("after the trial: %s, want closed", f.Status().Breaker)
	}
	if !runOnce(t, f) {
		t.Error("after the trial the other module was not delivered")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startRun runs f until the returned stop is called; stop cancels it and
// fails the test if Run does not return promptly.
func startRun(t *testing.T, f *Forwarder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestRunDeliversToARealBucketInOrderExactlyOnce(t *testing.T) {
	ctx := context.Background()
	b, err := server.Start(ctx, server.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	client := bucket.NewClient(b.URL)
	st := newSQLiteStore(t)
	modules := []string{"m0", "m1", "m2", "m3"}
	f := New(st, client, discard(), Config{BatchSize: 64, Concurrency: 4, Idle: 10 * time.Millisecond,
		Owner: "test", BucketURL: b.URL})

	// Half is waiting when Run starts; the rest arrives while it runs.
	var ids []string
	for i := range 5 {
		ids = append(ids, appendRecs(t, st, bridge.Now(), i*50, interleave(50, modules...)...)...)
	}
	stop := startRun(t, f)
	for i := 5; i < 10; i++ {
		ids = append(ids, appendRecs(t, st, bridge.Now(), i*50, interleave(50, modules...)...)...)
		f.Notify()
	}
	if len(ids) != 2000 {
		t.Fatalf("appended %d records, want 2000", len(ids))
	}
	waitFor(t, "every record synced", 60*time.Second, func() bool {
		s, err := st.Stats(ctx)
		return err == nil && s.Synced == 2000
	})
	stop()

	if s, err := st.Stats(ctx); err != nil || s.Pending != 0 || s.Dead != 0 {
		t.Errorf("store stats %+v (%v), want nothing pending or dead", s, err)
	}
	want := byModule(ids)
	for _, m := range modules {
		var got []string
		after := ""
		for {
			page, err := client.Records(ctx, m, after, server.MaxListLimit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				got = append(got, r.ID)
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, want[m]) {
			t.Errorf("bucket holds %d records of %s, want its %d in append order, exactly once", len(got), m, len(want[m]))
		}
	}
	bs, err := client.Stats(ctx)
	if err != nil || bs.Total != 2000 {
		t.Errorf("bucket stats %+v (%v), want 2000 records", bs, err)
	}
	if st := f.Status(); st.Breaker != "closed" || !st.Reachable || st.BucketURL != b.URL {
		t.Errorf("status %+v", st)
	}
}

func TestRunReleasesLeasesOfAnEarlierRun(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	ids := appendRecs(t, st, bridge.Now(), 0, "m", "m")
	l, err := st.Lease(ctx, bridge.LeaseParams{Owner: "x", Now: bridge.Now(), TTL: time.Hour, MaxRecords: 10})
	if err != nil || l == nil {
		t.Fatalf("lease: %v, %v", l, err)
	}
	s := &fakeSender{}
	// Another owner must respect the lease.
	if did, err := New(st, s, discard(), Config{Owner: "y"}).RunOnce(ctx); did || err != nil || s.sends() != 0 {
		t.Fatalf("owner y delivered a module leased by x: %v, %v", did, err)
	}
	f := New(st, s, discard(), Config{Owner: "x", Idle: 10 * time.Millisecond})
	stop := startRun(t, f)
	waitFor(t, "the leased records synced", 10*time.Second, func() bool {
		for _, id := range ids {
			if r, err := st.Get(ctx, id); err != nil || r.State != bridge.StateSynced {
				return false
			}
		}
		return true
	})
	stop()
	if got := s.sent()["m"]; !slices.Equal(got, ids) {
		t.Errorf("sent %v, want %v", got, ids)
	}
}

// A batch in flight when Run is cancelled is finished and settled, not
// left to its lease.
func TestRunSettlesTheBatchInFlightOnCancel(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	ids := appendRecs(t, st, bridge.Now(), 0, "m", "m")
	entered, release := make(chan struct{}), make(chan struct{})
	s := &fakeSender{SendFn: func(sctx context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		close(entered)
		<-release
		if sctx.Err() != nil {
			return nil, sctx.Err()
		}
		return storeAll(recs), nil
	}}
	f := New(st, s, discard(), Config{Concurrency: 1, Idle: 10 * time.Millisecond})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(rctx) }()
	<-entered
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned with a batch in flight")
	default:
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, id := range ids {
		if r := get(t, st, id); r.State != bridge.StateSynced {
			t.Errorf("%s: %s, want synced", id, r.State)
		}
	}
}
