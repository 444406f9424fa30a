package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"corebridge/internal/bridge"
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

func benchAppend(b *testing.B, keyed bool) {
	prefill := 200_000
	if v, err := strconv.Atoi(os.Getenv("COREBRIDGE_BENCH_PREFILL")); err == nil {
		prefill = v
	}
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
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
				recs[i].DedupeKey = u.DedupeKey()
			}
		}
		return recs
	}
	for done := 0; done < prefill; done += 1000 {
		if _, err := s.Append(ctx, batch(1000)); err != nil {
			b.Fatal(err)
		}
	}
	const size = 14
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Append(ctx, batch(size)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*size), "µs/record")
}
