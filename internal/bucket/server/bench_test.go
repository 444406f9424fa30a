package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"corebridge/internal/bucket"
)

// BenchmarkPut stores batches of 500 new ~300-byte records, one transaction
// each, with synchronous=FULL: the Bucket's side of a delivery.
func BenchmarkPut(b *testing.B) {
	const batch = 500
	s := openStore(b)
	data := json.RawMessage(`{"student":"s-1","lesson":12,"score":0.87,"tags":["math","quiz"],"note":"` + strings.Repeat("x", 160) + `"}`)
	ctx := context.Background()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		recs := make([]bucket.Record, batch)
		for i := range recs {
			recs[i] = bucket.Record{ID: fmt.Sprintf("rec-%09d", n), Module: "edu", SessionID: "sess-1",
				Data: data, ReceivedAt: "2026-11-29T14:00:00.000000Z"}
			n++
		}
		if _, err := s.Put(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
