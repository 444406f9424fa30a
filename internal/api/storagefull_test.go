package api_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/ingest"
	"corebridge/internal/insight"
	"corebridge/internal/store/sqlite"
)

// A store that is full for real (SQLite's max_page_count: SQLITE_FULL,
// as on a full disk) refuses ingest with 503 and Retry-After, never 500;
// nothing of the failed commit is acknowledged, every record acknowledged
// before is intact, health and /readyz say why, and once there is room
// again ingest, health and /readyz recover by themselves.
func TestFullStoreAnswers503(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true, insight: insight.Config{PingEvery: time.Nanosecond}})
	store := f.store.(*sqlite.Store)
	if _, err := store.LimitPages(t.Context(), 24); err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("x", 900)
	var acked []string
	var full response
	for i := range 1000 {
		body := fmt.Sprintf(`{"module":"m","session_id":"s%d","data":{"i":%d,"pad":%q}}`, i, i, data)
		r := f.do(t, "POST", "/core/update", body, "Idempotency-Key", fmt.Sprintf("k%d", i))
		if r.code == http.StatusOK {
			acked = append(acked, r.object(t)["record_id"].(string))
			continue
		}
		full = r
		break
	}
	if full.code != http.StatusServiceUnavailable {
		t.Fatalf("update on a full store: %d %s, want 503 (after %d acknowledged)", full.code, full.body, len(acked))
	}
	if len(acked) == 0 {
		t.Fatal("the first update already failed: the limit is too tight for this test")
	}
	if s, err := strconv.Atoi(full.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After = %q, want a number of seconds", full.header.Get("Retry-After"))
	}
	if m := full.object(t); !strings.Contains(fmt.Sprint(m["detail"]), "storage is full") {
		t.Errorf("detail = %v, want it to say the storage is full", m["detail"])
	}
	// Refused again, still 503 (a producer retries), batch ingest too.
	f.do(t, "POST", "/core/update", `{"module":"m","data":{"pad":"`+data+`"}}`).want(t, http.StatusServiceUnavailable)
	f.do(t, "POST", "/core/updates", `[{"module":"m","data":{"pad":"`+data+`"}}]`).want(t, http.StatusServiceUnavailable)

	h := f.do(t, "GET", "/core/health", "").object(t)
	if h["status"] != "down" || !strings.Contains(fmt.Sprint(h["reasons"]), "storage is full") {
		t.Errorf("health on a full store: %v %v, want down naming the full storage", h["status"], h["reasons"])
	}
	if r := f.do(t, "GET", "/readyz", ""); r.code != http.StatusServiceUnavailable {
		t.Errorf("/readyz on a full store: %d %s, want 503", r.code, r.body)
	}

	st := f.stats(t)
	if st.Received != int64(len(acked)) {
		t.Errorf("store holds %d records, %d were acknowledged", st.Received, len(acked))
	}
	for _, id := range acked {
		if rec, err := f.store.Get(t.Context(), id); err != nil || !strings.Contains(string(rec.Data), data) {
			t.Fatalf("acknowledged record %s: %v (data %d bytes)", id, err, len(rec.Data))
		}
	}

	// Room again: no restart, health and /readyz recover with nobody
	// sending, and the refused key is new (nothing of it was stored).
	if _, err := store.LimitPages(t.Context(), -1); err != nil {
		t.Fatal(err)
	}
	if h := f.do(t, "GET", "/core/health", "").object(t); h["status"] != "ok" {
		t.Errorf("health once there is room: %v %v, want ok", h["status"], h["reasons"])
	}
	f.do(t, "GET", "/readyz", "").want(t, http.StatusOK)
	k := fmt.Sprintf("k%d", len(acked))
	r := f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`, "Idempotency-Key", k)
	r.want(t, http.StatusOK)
	if r.object(t)["duplicate"] == true {
		t.Errorf("the key of a refused update was answered as a duplicate: %s", r.body)
	}
}

// While the disk guard refuses (free space below --min-free-disk), ingest
// answers 503 with Retry-After and the reason, nothing is stored, health
// is degraded naming it and /readyz is 503; once there is room, all of it
// recovers by itself.
func TestDiskGuardRefusesIngest(t *testing.T) {
	const mib = 1 << 20
	var free atomic.Uint64
	free.Store(100 * mib)
	g := ingest.NewDiskGuard(ingest.GuardConfig{Dir: "/data", MinFree: ingest.MinFree{Bytes: 512 * mib},
		Space: func(string) (uint64, uint64, error) { return free.Load(), 4096 * mib, nil }})
	f := newFixtureWith(t, setup{sqlite: true, ingest: ingest.Config{Guard: g}, insight: insight.Config{DiskGuard: g.Refusing}})
	f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`).want(t, http.StatusOK)
	g.Check()

	for _, c := range []struct{ path, body string }{
		{"/core/update", `{"module":"m","data":{}}`},
		{"/core/updates", `[{"module":"m","data":{}}]`},
	} {
		r := f.do(t, "POST", c.path, c.body)
		r.want(t, http.StatusServiceUnavailable)
		if r.header.Get("Retry-After") != "5" {
			t.Errorf("%s: Retry-After = %q, want 5", c.path, r.header.Get("Retry-After"))
		}
		if d := fmt.Sprint(r.object(t)["detail"]); !strings.Contains(d, "disk almost full: 100 MiB free") || !strings.Contains(d, "--min-free-disk 512MiB") {
			t.Errorf("%s: detail %q, want free space and the flag", c.path, d)
		}
	}
	if n := f.stats(t).Received; n != 1 {
		t.Errorf("store holds %d records, want 1 (none while the guard refuses)", n)
	}
	h := f.do(t, "GET", "/core/health", "").object(t)
	if h["status"] != "degraded" || !strings.Contains(fmt.Sprint(h["reasons"]), "disk almost full") {
		t.Errorf("health while the guard refuses: %v %v, want degraded naming the disk", h["status"], h["reasons"])
	}
	r := f.do(t, "GET", "/readyz", "")
	r.want(t, http.StatusServiceUnavailable)
	if !strings.Contains(string(r.body), "disk almost full") {
		t.Errorf("/readyz body %s, want the reason", r.body)
	}

	free.Store(600 * mib)
	g.Check()
	f.do(t, "GET", "/readyz", "").want(t, http.StatusOK)
	if h := f.do(t, "GET", "/core/health", "").object(t); h["status"] != "ok" {
		t.Errorf("health once the disk has room: %v %v, want ok", h["status"], h["reasons"])
	}
	f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`).want(t, http.StatusOK)
}
