package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/api"
)

// benchBody is a typical update: a module, a session and a small object.
func benchBody(n int64) string {
	return fmt.Sprintf(`{"module":"education","session_id":"bench-%d","data":{"student":"s-%d","lesson":12,"score":0.87,"tags":["math","quiz"]}}`, n, n)
}

// benchPost runs POST /core/update against h from parallel producers; with
// a durable store concurrency is what lets group commit share fsyncs.
func benchPost(b *testing.B, h http.Handler) {
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := benchBody(n.Add(1))
			req := httptest.NewRequest("POST", "/core/update", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json") // state-changing routes require JSON
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// BenchmarkUpdateHandler measures durable ingest in-process: real SQLite
// with synchronous=FULL, group commit, no network.
func BenchmarkUpdateHandler(b *testing.B) {
	f := newFixtureWith(b, setup{api: api.Config{Now: time.Now}, sqlite: true})
	benchPost(b, f.srv)
	b.StopTimer()
	if commits, records := f.commitStats(); commits > 0 {
		b.ReportMetric(float64(records)/float64(commits), "records/commit")
	}
}

// BenchmarkCeilingHandler is the same load against the ceiling server,
// which stores nothing: the bound BenchmarkUpdateHandler is compared to.
func BenchmarkCeilingHandler(b *testing.B) {
	benchPost(b, api.NewCeiling(0))
}

// BenchmarkUpdateDuplicates is producers resending: 64 distinct updates
// (module, session, data) posted over and over, so every request after
// the first 64 is a duplicate: the path where the store reads the
// original to decide (issue 15 reads its module and data too).
func BenchmarkUpdateDuplicates(b *testing.B) {
	f := newFixtureWith(b, setup{api: api.Config{Now: time.Now}, sqlite: true})
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/core/update", strings.NewReader(benchBody(n.Add(1)%64)))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
}
