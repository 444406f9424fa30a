package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
	"corebridge/internal/store/sqlite"

	"github.com/google/uuid"
)

// BenchmarkAppend is the group commit's store side alone: batches of 14
// records (what a commit carries at 64 connections), four modules, with a
// dedupe key (as every producer that sends a session_id) or without, into
// a store that already holds COREBRIDGE_BENCH_PREFILL records (default
// 200,000). Reported per record.
func BenchmarkAppend(b *testing.B) {
	b.Run("keyed", func(b *testing.B) { benchAppend(b, true) })
	b.Run("unkeyed", func(b *testing.B) { benchAppend(b, false) })
}

func benchPrefill() int {
	if v, err := strconv.Atoi(os.Getenv("COREBRIDGE_BENCH_PREFILL")); err == nil {
		return v
	}
	return 200_000
}

func benchAppend(b *testing.B, keyed bool) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fill := filler(keyed)
	fill(b, s, benchPrefill())
	const size = 14
	b.ResetTimer()
	for b.Loop() {
		fill(b, s, size)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*size), "µs/record")
}

// BenchmarkOpen is opening a store of COREBRIDGE_BENCH_PREFILL keyed
// records: reading every dedupe key into memory is most of it.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	n := benchPrefill()
	filler(true)(b, s, n)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var held uint64 // live heap of an open store
	for b.Loop() {
		// Only Open is timed: not the collections that measure its heap,
		// nor Close.
		var m0, m1 runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&m0)
		b.StartTimer()
		s, err := sqlite.Open(path, sqlite.Options{})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		held += m1.HeapAlloc - m0.HeapAlloc
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
	b.ReportMetric(float64(held)/float64(b.N*n), "heap-B/key")
}

// filler returns a function that appends n records to s in batches of up
// to 1,000, with a dedupe key each if keyed.
func filler(keyed bool) func(b *testing.B, s *sqlite.Store, n int) {
	ctx := context.Background()
	modules := []string{"education", "finance", "creative", "robotics"}
	data := json.RawMessage(`{"student_id":"stu-00042","course":"algebra-2","score":87.5,"completed":true,"attempt":3,"tags":["homework","week-12"],"submitted_at":"2026-11-29T10:15:00Z"}`)
	n := 0
	batch := func(size int) []bridge.NewRecord {
		recs := make([]bridge.NewRecord, size)
		now := time.Now().UTC()
		for i := range recs {
			n++
			u := bridge.Update{Module: modules[n%4], SessionID: fmt.Sprintf("sess-%d-%d", n, time.Now().UnixNano()), Data: data}
			recs[i] = bridge.NewRecord{ID: uuid.Must(uuid.NewV7()).String(), Module: u.Module, SessionID: u.SessionID,
				Data: u.Data, ReceivedAt: now}
			if keyed {
				recs[i].DedupeKey = ingest.DedupeKey(u, "")
			}
		}
		return recs
	}
	return func(b *testing.B, s *sqlite.Store, total int) {
		for done := 0; done < total; done += 1000 {
			if _, err := s.Append(ctx, batch(min(1000, total-done))); err != nil {
				b.Fatal(err)
			}
		}
	}
}
