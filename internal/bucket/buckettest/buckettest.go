// Package buckettest helps tests talk to a real reference Bucket: one
// started on a loopback port for the length of a test, and records as the
// forwarder leases them. It is for tests only.
package buckettest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
)

// Start runs a reference Bucket on a loopback port (in a fresh data
// directory unless cfg names one) and stops it when the test ends.
func Start(t testing.TB, cfg server.Config) *server.Running {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	run, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := run.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return run
}

// Records returns n records of module with ids prefix-0…, as the
// forwarder leases them.
func Records(prefix, module string, n int) []bridge.Record {
	at := time.Date(2026, 11, 29, 14, 0, 0, 123456000, time.UTC)
	out := make([]bridge.Record, n)
	for i := range out {
		out[i] = bridge.Record{ID: fmt.Sprintf("%s-%d", prefix, i), Seq: int64(i + 1), Module: module,
			SessionID: "sess", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), ReceivedAt: at.Add(time.Duration(i) * time.Millisecond)}
	}
	return out
}

// Statuses returns the statuses of results, in order.
func Statuses(rs []bucket.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}
