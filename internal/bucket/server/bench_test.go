package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"corebridge/internal/bucket"
)

var benchData = json.RawMessage(`{"student":"s-1","lesson":12,"score":0.87,"tags":["math","quiz"],"note":"` + strings.Repeat("x", 160) + `"}`)

// benchBatch returns batch ~300-byte records numbered from n, with their
// content hashes as the bridge sends them.
func benchBatch(n, batch int) []bucket.Record {
	recs := make([]bucket.Record, batch)
	for i := range recs {
		recs[i] = hashed(bucket.Record{ID: fmt.Sprintf("rec-%09d", n+i), Module: "edu", SessionID: "sess-1",
			Data: benchData, ReceivedAt: "2026-11-29T14:00:00.000000Z"})
	}
	return recs
}

// BenchmarkPut stores batches of 500 new ~300-byte records, one transaction
// each, with synchronous=FULL: the Bucket's side of a delivery (each
// record's hash verified and kept).
func BenchmarkPut(b *testing.B) {
	const batch = 500
	s := openStore(b)
	ctx := context.Background()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		recs := benchBatch(n, batch)
		b.StartTimer()
		if _, err := s.Put(ctx, recs); err != nil {
			b.Fatal(err)
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPutRedelivery sends batches of 500 records the Bucket already
// holds (a bridge resending after a lost answer): every record is a
// duplicate, its held hash compared.
func BenchmarkPutRedelivery(b *testing.B) {
	const batch, held = 500, 20
	s := openStore(b)
	ctx := context.Background()
	var batches [][]bucket.Record
	for i := range held {
		batches = append(batches, benchBatch(i*batch, batch))
		if _, err := s.Put(ctx, batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.Put(ctx, batches[(n/batch)%held])
		if err != nil || res[0].Status != bucket.StatusDuplicate {
			b.Fatal(res[0], err)
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
