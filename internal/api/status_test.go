package api_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/bridge"
	"corebridge/internal/insight"
)

func TestBucketStatus(t *testing.T) {
	f := newFixture(t, api.Config{})
	t0 := f.clock.Now()

	t.Run("before any sync", func(t *testing.T) {
		r := f.do(t, "GET", "/bucket/status", "")
		r.want(t, http.StatusOK)
		m := r.object(t)
		if s := wantString(t, m, "last_sync_time"); s != "" {
			t.Errorf("last_sync_time = %q, want \"\"", s)
		}
		if n := wantInt(t, m, "total_sync_count"); n != 0 {
			t.Errorf("total_sync_count = %d", n)
		}
		counts, ok := m["module_sync_counts"].(map[string]any)
		if !ok || len(counts) != 0 {
			t.Errorf("module_sync_counts = %#v, want an empty object", m["module_sync_counts"])
		}
	})

	// Interleaved so that each module's head is older than the other's next.
	for i, mod := range []string{"education", "finance", "education", "finance", "education"} {
		wantUpdateOK(t, f.do(t, "POST", "/core/update", fmt.Sprintf(`{"module":%q,"data":{"i":%d}}`, mod, i)), mod, false)
	}
	syncAt := t0.Add(90 * time.Second)
	if mod := f.settle(t, syncAt, 2, 2); mod != "education" {
		t.Fatalf("leased %s first, want education", mod)
	}
	if mod := f.settle(t, syncAt.Add(-time.Second), 2, 1, "education"); mod != "finance" {
		t.Fatalf("leased %s, want finance", mod)
	}

	t.Run("after syncs", func(t *testing.T) {
		m := f.do(t, "GET", "/bucket/status", "").object(t)
		if s := wantString(t, m, "last_sync_time"); s != bridge.FormatTime(syncAt) {
			t.Errorf("last_sync_time = %q, want the latest sync %q", s, bridge.FormatTime(syncAt))
		}
		if n := wantInt(t, m, "total_sync_count"); n != 3 {
			t.Errorf("total_sync_count = %d, want 3", n)
		}
		counts, ok := m["module_sync_counts"].(map[string]any)
		if !ok {
			t.Fatalf("module_sync_counts = %#v, want an object", m["module_sync_counts"])
		}
		if n := wantInt(t, counts, "education"); n != 2 {
			t.Errorf("education syncs = %d, want 2", n)
		}
		if n := wantInt(t, counts, "finance"); n != 1 {
			t.Errorf("finance syncs = %d, want 1", n)
		}
		if len(counts) != 2 {
			t.Errorf("module_sync_counts = %v", counts)
		}
		for key, want := range map[string]int64{"received_count": 5, "pending_count": 1, "dead_count": 1} {
			if n := wantInt(t, m, key); n != want {
				t.Errorf("%s = %d, want %d", key, n, want)
			}
		}
	})
}

func TestHealth(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := newClock(t0)
	// StaleAfter is longer than the test's day, so that status stays ok;
	// TestHealthDegraded covers staleness.
	f := newFixtureWith(t, setup{api: api.Config{Now: clk.Now, Version: "v-test"},
		insight: insight.Config{Started: t0.Add(-10 * time.Second), StoreKind: "sqlite", StaleAfter: 48 * time.Hour}})

	get := func(t *testing.T) map[string]any {
		t.Helper()
		r := f.do(t, "GET", "/core/health", "")
		r.want(t, http.StatusOK)
		m := r.object(t)
		if s := wantString(t, m, "status"); s != "ok" {
			t.Errorf("status = %q, want ok (reasons %v)", s, m["reasons"])
		}
		wantFloat(t, m, "uptime_s")
		wantString(t, m, "last_sync_ts")
		wantInt(t, m, "pending_queue")
		wantInt(t, m, "error_count_24h")
		wantFloat(t, m, "avg_latency_ms_24h")
		return m
	}

	t.Run("empty", func(t *testing.T) {
		m := get(t)
		if u := wantFloat(t, m, "uptime_s"); u != 10 {
			t.Errorf("uptime_s = %v, want 10", u)
		}
		if s := m["last_sync_ts"]; s != "" {
			t.Errorf("last_sync_ts = %#v, want \"\"", s)
		}
		for _, k := range []string{"pending_queue", "error_count_24h"} {
			if n := wantInt(t, m, k); n != 0 {
				t.Errorf("%s = %d, want 0", k, n)
			}
		}
		if a := wantFloat(t, m, "avg_latency_ms_24h"); a != 0 {
			t.Errorf("avg_latency_ms_24h = %v, want 0", a)
		}
		if m["version"] != "v-test" || m["store"] != "sqlite" {
			t.Errorf("version %v store %v", m["version"], m["store"])
		}
	})

	for i := range 4 {
		wantUpdateOK(t, f.do(t, "POST", "/core/update", fmt.Sprintf(`{"module":"m","data":{"i":%d}}`, i)), "m", false)
	}
	t.Run("pending", func(t *testing.T) {
		clk.Set(t0.Add(500 * time.Millisecond))
		m := get(t)
		if n := wantInt(t, m, "pending_queue"); n != 4 {
			t.Errorf("pending_queue = %d, want 4", n)
		}
		if a := wantFloat(t, m, "oldest_pending_age_s"); a != 0.5 {
			t.Errorf("oldest_pending_age_s = %v, want 0.5", a)
		}
	})

	// Three of the four confirmed 1.5 s after they were accepted.
	syncAt := t0.Add(1500 * time.Millisecond)
	f.settle(t, syncAt, 3, 3)

	t.Run("after syncs", func(t *testing.T) {
		clk.Set(t0.Add(2 * time.Second))
		m := get(t)
		if u := wantFloat(t, m, "uptime_s"); u != 12 {
			t.Errorf("uptime_s = %v, want 12", u)
		}
		if n := wantInt(t, m, "pending_queue"); n != 1 {
			t.Errorf("pending_queue = %d, want 1", n)
		}
		if s := m["last_sync_ts"]; s != bridge.FormatTime(syncAt) {
			t.Errorf("last_sync_ts = %#v, want %q", s, bridge.FormatTime(syncAt))
		}
		if a := wantFloat(t, m, "avg_latency_ms_24h"); math.Abs(a-1500) > 0.001 {
			t.Errorf("avg_latency_ms_24h = %v, want 1500", a)
		}
		for key, want := range map[string]int64{"received_total": 4, "synced_total": 3, "synced_24h": 3, "dead_count": 0} {
			if n := wantInt(t, m, key); n != want {
				t.Errorf("%s = %d, want %d", key, n, want)
			}
		}
	})

	t.Run("a day later the latency window is empty", func(t *testing.T) {
		clk.Set(syncAt.Add(24*time.Hour + time.Second))
		m := get(t)
		if a := wantFloat(t, m, "avg_latency_ms_24h"); a != 0 {
			t.Errorf("avg_latency_ms_24h = %v, want 0", a)
		}
		if n := wantInt(t, m, "synced_24h"); n != 0 {
			t.Errorf("synced_24h = %d, want 0", n)
		}
	})
}

// TestHealthDegraded: degraded, with the reason, while the oldest pending
// record is older than StaleAfter or the forwarder's breaker is open; ok
// again when neither holds.
func TestHealthDegraded(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := newClock(t0)
	breaker := "closed"
	f := newFixtureWith(t, setup{api: api.Config{Now: clk.Now}, insight: insight.Config{StaleAfter: 5 * time.Minute,
		Delivery: func() bridge.DeliveryStatus {
			return bridge.DeliveryStatus{BucketURL: "http://bucket.test", Reachable: breaker == "closed", Breaker: breaker,
				BreakerOpened: t0, LastError: "connection refused"}
		}}})
	f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`).want(t, http.StatusOK)
	health := func() map[string]any {
		r := f.do(t, "GET", "/core/health", "")
		r.want(t, http.StatusOK)
		return r.object(t)
	}
	reasons := func(m map[string]any) string { return fmt.Sprint(m["reasons"]) }

	if m := health(); m["status"] != "ok" || m["bucket_url"] != "http://bucket.test" || m["bucket_reachable"] != true {
		t.Fatalf("fresh record, breaker closed: %v", m)
	}
	clk.Set(t0.Add(6 * time.Minute))
	if m := health(); m["status"] != "degraded" || !strings.Contains(reasons(m), "oldest pending record is 6m0s old") {
		t.Fatalf("record pending for 6 min: %v", m)
	}
	clk.Set(t0.Add(time.Minute))
	breaker = "open"
	if m := health(); m["status"] != "degraded" || !strings.Contains(reasons(m), "connection refused") || m["bucket_reachable"] != false {
		t.Fatalf("breaker open: %v", m)
	}
	breaker = "closed"
	if m := health(); m["status"] != "ok" {
		t.Fatalf("breaker closed again: %v", m)
	}
}

func TestHealthStoreDown(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true}) // a closed SQLite store can be neither read nor written
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	r := f.do(t, "GET", "/core/health", "")
	r.want(t, http.StatusOK)
	if m := r.object(t); m["status"] != "down" {
		t.Errorf("status = %#v, want down", m["status"])
	}
}

// unwritable is a store whose test write fails, as on a full or read-only disk.
type unwritable struct{ bridge.Store }

func (unwritable) Ping(context.Context) error { return errors.New("disk full") }

// TestHealthDownWhenStoreUnwritable: health is down, saying why, when the
// store cannot take a write, even with no ingest to notice it.
func TestHealthDownWhenStoreUnwritable(t *testing.T) {
	f := newFixtureWith(t, setup{wrap: func(st bridge.Store) bridge.Store { return unwritable{st} }})
	srv := f.srv
	r := serve(t, srv, "GET", "/core/health", "")
	r.want(t, http.StatusOK)
	m := r.object(t)
	if m["status"] != "down" || !strings.Contains(fmt.Sprint(m["reasons"]), "not writable") {
		t.Fatalf("health with an unwritable store: %v", m)
	}
	serve(t, srv, "GET", "/readyz", "").want(t, http.StatusServiceUnavailable)
}

// bucket_reachable false always comes with degraded, naming the error,
// even while the breaker is still closed (a few records retrying).
func TestHealthDegradedWhileBucketUnreachable(t *testing.T) {
	reachable := false
	f := newFixtureWith(t, setup{insight: insight.Config{Delivery: func() bridge.DeliveryStatus {
		return bridge.DeliveryStatus{BucketURL: "http://bucket.test", Reachable: reachable, Breaker: "closed",
			LastError: "dial tcp 127.0.0.1:9: connection refused"}
	}}})
	m := f.do(t, "GET", "/core/health", "").object(t)
	if m["status"] != "degraded" || !strings.Contains(fmt.Sprint(m["reasons"]), "connection refused") {
		t.Errorf("bucket unreachable, breaker closed: %v %v, want degraded naming the error", m["status"], m["reasons"])
	}
	reachable = true
	if m := f.do(t, "GET", "/core/health", "").object(t); m["status"] != "ok" {
		t.Errorf("bucket reachable again: %v %v", m["status"], m["reasons"])
	}
}

// No drain estimate is shown while the Bucket is unreachable: the recent
// sync rate says nothing about when the queue will drain.
func TestNoDrainETAWhileBucketUnreachable(t *testing.T) {
	reachable := true
	f := newFixtureWith(t, setup{insight: insight.Config{Delivery: func() bridge.DeliveryStatus {
		return bridge.DeliveryStatus{BucketURL: "http://bucket.test", Reachable: reachable, Breaker: "closed", LastError: "connection refused"}
	}}})
	for i := range 4 {
		f.do(t, "POST", "/core/update", fmt.Sprintf(`{"module":"m","data":{"i":%d}}`, i)).want(t, http.StatusOK)
	}
	f.settle(t, f.clock.Now(), 2, 2) // a recent sync rate, two still pending
	if m := f.do(t, "GET", "/core/health", "").object(t); m["drain_eta_s"] == nil {
		t.Fatalf("reachable: no drain estimate (%v); the test needs one", m)
	}
	reachable = false
	if m := f.do(t, "GET", "/core/health", "").object(t); m["drain_eta_s"] != nil {
		t.Errorf("drain_eta_s = %v while the Bucket is unreachable, want null", m["drain_eta_s"])
	}
}

// flakyDisk is a store whose writes fail while full is set (a full disk),
// and which counts its test writes.
type flakyDisk struct {
	bridge.Store
	full  atomic.Bool
	pings atomic.Int64
}

func (d *flakyDisk) Append(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	if d.full.Load() {
		return nil, errors.New("database or disk is full")
	}
	return d.Store.Append(ctx, recs)
}

func (d *flakyDisk) Ping(ctx context.Context) error {
	d.pings.Add(1)
	if d.full.Load() {
		return errors.New("database or disk is full")
	}
	return d.Store.Ping(ctx)
}

// After a failed commit (a full disk), health says down; once the disk
// has room again it recovers by itself, with no producer sending (one that
// checks health before sending would never send again otherwise).
func TestHealthRecoversAfterFailedCommitWithoutIngest(t *testing.T) {
	disk := &flakyDisk{}
	f := newFixtureWith(t, setup{wrap: func(st bridge.Store) bridge.Store { disk.Store = st; return disk },
		insight: insight.Config{PingEvery: time.Millisecond}})
	disk.full.Store(true)
	if r := f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`); r.code < 500 {
		t.Fatalf("update on a full disk: %d", r.code)
	}
	if m := f.do(t, "GET", "/core/health", "").object(t); m["status"] != "down" {
		t.Fatalf("health after a failed commit: %v %v, want down", m["status"], m["reasons"])
	}
	disk.full.Store(false)
	time.Sleep(5 * time.Millisecond) // past PingEvery
	if m := f.do(t, "GET", "/core/health", "").object(t); m["status"] != "ok" {
		t.Errorf("health once the disk has room, nobody sending: %v %v, want ok", m["status"], m["reasons"])
	}
}

// /readyz does not write to the store on every call: it uses health's
// cached test write.
func TestReadyzIsCached(t *testing.T) {
	disk := &flakyDisk{}
	f := newFixtureWith(t, setup{wrap: func(st bridge.Store) bridge.Store { disk.Store = st; return disk }})
	for range 10 {
		f.do(t, "GET", "/readyz", "").want(t, http.StatusOK)
	}
	if n := disk.pings.Load(); n > 1 {
		t.Errorf("10 /readyz calls made %d test writes, want at most 1", n)
	}
}
