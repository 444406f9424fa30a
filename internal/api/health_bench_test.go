package api_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
	"corebridge/internal/insight"
	"corebridge/internal/store/sqlite"
)

// BenchmarkStatusRoutes measures /core/health, /bucket/status and
// /api/summary over stores holding 10k, 100k and 1M records accepted in
// the last 24 h (spread over the day, four modules, 90% synced at 200 ms),
// and reports the p99 of single calls. Their cost must not grow with the
// volume: the 24 h figures come from per-minute rollups.
//
// Seeding 1M records takes a minute; COREBRIDGE_BENCH_MAX limits the sizes.
//
//	go test -run '^$' -bench BenchmarkStatusRoutes -benchtime 2000x ./internal/api/
func BenchmarkStatusRoutes(b *testing.B) {
	sizes := []int{10_000, 100_000, 1_000_000}
	if v := os.Getenv("COREBRIDGE_BENCH_MAX"); v != "" {
		var max int
		fmt.Sscan(v, &max)
		sizes = slices.DeleteFunc(sizes, func(n int) bool { return n > max })
	}
	now := time.Now().UTC()
	for _, n := range sizes {
		st := seedDay(b, n, now)
		clock := func() time.Time { return now }
		log := slog.New(slog.DiscardHandler)
		hub, err := insight.New(insight.Config{Store: st, Now: clock})
		if err != nil {
			b.Fatal(err)
		}
		// Only reads are served: the ingest writer need not run.
		srv := api.NewServer(st, ingest.New(st, log, ingest.Config{}), hub, log, api.Config{Now: clock})
		for _, path := range []string{"/core/health", "/bucket/status", "/api/summary"} {
			b.Run(fmt.Sprintf("%s/records=%d", path, n), func(b *testing.B) {
				durs := make([]time.Duration, 0, b.N)
				for b.Loop() {
					req := httptest.NewRequest(http.MethodGet, path, nil)
					rec := httptest.NewRecorder()
					t0 := time.Now()
					srv.ServeHTTP(rec, req)
					durs = append(durs, time.Since(t0))
					if rec.Code != 200 {
						b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
					}
				}
				slices.Sort(durs)
				b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
		st.Close()
	}
}

// seedDay stores n records accepted over the 24 h before now and syncs 90%
// of them 200 ms after acceptance, through the store's own Append, Lease
// and Settle, so rollups and counters are what a real day leaves.
func seedDay(b *testing.B, n int, now time.Time) *sqlite.Store {
	b.Helper()
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	start := now.Add(-24*time.Hour + time.Minute)
	step := (24*time.Hour - 2*time.Minute) / time.Duration(n)
	mods := []string{"education", "finance", "creative", "robotics"}
	const batch = 1000
	data := json.RawMessage(`{"score":87,"student":"s-1234","course":"algebra-2","ok":true}`)
	for i := 0; i < n; i += batch {
		recs := make([]bridge.NewRecord, 0, batch)
		for j := i; j < min(n, i+batch); j++ {
			recs = append(recs, bridge.NewRecord{ID: fmt.Sprintf("r%09d", j), Module: mods[j%4], SessionID: fmt.Sprint("s", j),
				Data: data, ReceivedAt: bridge.Truncate(start.Add(time.Duration(j) * step)), DedupeKey: fmt.Sprint("k", j)})
		}
		if _, err := st.Append(ctx, recs); err != nil {
			b.Fatal(err)
		}
		// Deliver the batch's first 90%: lease each module's head as of
		// 200 ms after its newest record and sync it then.
		for {
			l, err := st.Lease(ctx, bridge.LeaseParams{Owner: "bench", Now: recs[len(recs)-1].ReceivedAt.Add(time.Second),
				TTL: time.Minute, MaxRecords: 500})
			if err != nil {
				b.Fatal(err)
			}
			if l == nil {
				break
			}
			var ids []string
			for _, r := range l.Records {
				if seq(r.ID)%10 != 9 {
					ids = append(ids, r.ID)
				}
			}
			at := l.Records[len(l.Records)-1].ReceivedAt.Add(200 * time.Millisecond)
			if err := st.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: at, Synced: ids}); err != nil {
				b.Fatal(err)
			}
			if len(ids) < len(l.Records) {
				break // the unsynced stay at the head: this module is done for the batch
			}
		}
	}
	return st
}

func seq(id string) int {
	var n int
	fmt.Sscanf(id, "r%d", &n)
	return n
}
