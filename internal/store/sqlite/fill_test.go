package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
	"corebridge/internal/store/sqlite"

	"github.com/google/uuid"
)

// TestFillForBenchmarks is a tool, not a test: with COREBRIDGE_FILL_DB
// (a database path, e.g. DIR/corebridge.db for serve --data-dir DIR) and
// COREBRIDGE_FILL_N it appends N keyed records (a content key each, as
// ingest makes for a request with a session_id) through Store.Append in
// batches of 5,000, for measuring serve's open time and memory on a big
// store (docs/benchmarks.md). Skipped otherwise.
func TestFillForBenchmarks(t *testing.T) {
	path, n := os.Getenv("COREBRIDGE_FILL_DB"), os.Getenv("COREBRIDGE_FILL_N")
	if path == "" || n == "" {
		t.Skip("set COREBRIDGE_FILL_DB and COREBRIDGE_FILL_N")
	}
	total, err := strconv.Atoi(n)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	modules := []string{"education", "finance", "creative", "robotics"}
	data := json.RawMessage(`{"course_id":"CS101","course_name":"Introduction to Computer Science","students_enrolled":42,"instructor":"Dr. Smith","term":"2026-fall","room":"B-204","credits":4}`)
	run := time.Now().UnixNano()
	start := time.Now()
	for done := 0; done < total; {
		recs := make([]bridge.NewRecord, min(5000, total-done))
		now := time.Now().UTC()
		for i := range recs {
			u := bridge.Update{Module: modules[done%4], SessionID: fmt.Sprintf("fill-%x-%d", run, done), Data: data}
			recs[i] = bridge.NewRecord{ID: uuid.Must(uuid.NewV7()).String(), Module: u.Module, SessionID: u.SessionID,
				Data: u.Data, ReceivedAt: now, DedupeKey: ingest.DedupeKey(u, "")}
			done++
		}
		if _, err := s.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("appended %d keyed records in %s", total, time.Since(start).Round(time.Millisecond))
}
