package reconcile_test

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
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
	"corebridge/internal/reconcile"
	"corebridge/internal/store/sqlite"
)

// TestMillionAgainstTheReferenceBucket is the benchmark of
// docs/benchmarks.md ("Reconciliation"), not a test: with
// COREBRIDGE_RECONCILE_BENCH=N (e.g. 1000000) it fills a SQLite store with
// N synced records of one module (Append and Lease/Settle in batches of
// 10,000) and a reference Bucket's database with the same records but one
// (Put in batches of 10,000), starts the Bucket on it, and reconciles
// twice over HTTP, reporting round trips and wall time. Skipped otherwise.
func TestMillionAgainstTheReferenceBucket(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("COREBRIDGE_RECONCILE_BENCH"))
	if n <= 0 {
		t.Skip("set COREBRIDGE_RECONCILE_BENCH=1000000")
	}
	ctx := context.Background()
	dir := t.TempDir()
	local, err := sqlite.Open(filepath.Join(dir, "bridge.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	bdir := filepath.Join(dir, "bucket")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		t.Fatal(err)
	}
	bstore, err := server.OpenStore(filepath.Join(bdir, server.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	const batch = 10_000
	at := bridge.Truncate(time.Now().Add(-time.Hour))
	lost := n * 2 / 3
	var lostID string
	fillStart := time.Now()
	for done := 0; done < n; {
		recs := make([]bridge.NewRecord, min(batch, n-done))
		for i := range recs {
			k := done + i
			ts := at.Add(time.Duration(k) * time.Millisecond / 100)
			recs[i] = bridge.NewRecord{ID: uuid7(ts, uint64(k)), Module: "bench", SessionID: "s",
				Data: json.RawMessage(fmt.Sprintf(`{"i":%d,"course":"CS101"}`, k)), ReceivedAt: ts}
		}
		if _, err := local.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
		l, err := local.Lease(ctx, bridge.LeaseParams{Owner: "bench", Now: time.Now(), TTL: time.Minute, MaxRecords: batch})
		if err != nil || l == nil || len(l.Records) != len(recs) {
			t.Fatalf("lease: %v (%v)", err, l != nil)
		}
		ids := make([]string, len(l.Records))
		wire := make([]bridge.Record, 0, len(l.Records))
		for i, r := range l.Records {
			ids[i] = r.ID
			if done+i == lost {
				lostID = r.ID
				continue
			}
			wire = append(wire, r)
		}
		if _, err := bstore.Put(ctx, bucket.WireRecords(wire)); err != nil {
			t.Fatal(err)
		}
		if err := local.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: "bench", Now: time.Now(), Synced: ids}); err != nil {
			t.Fatal(err)
		}
		done += len(recs)
	}
	if err := bstore.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("filled %d records here and %d there in %s", n, n-1, time.Since(fillStart).Round(time.Millisecond))
	b, err := server.Start(ctx, server.Config{DataDir: bdir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	client := bucket.NewClient(b.URL, bucket.WithConcurrency(reconcile.DefaultConcurrency))
	for run := 1; run <= 2; run++ {
		start := time.Now()
		rep, err := reconcile.Run(ctx, reconcile.Options{Local: local, Bucket: client})
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		m := rep.Modules[0]
		t.Logf("run %d: %d synced here, %d held there, %d missing (%v), %d round trips (1 of them the chain report), %s",
			run, m.SyncedHere, m.HeldThere, m.Missing, m.MissingIDs, m.RoundTrips, took.Round(time.Millisecond))
		if m.Missing != 1 || m.MissingIDs[0] != lostID || m.Unexpected+m.Mismatched != 0 {
			t.Fatalf("report = %+v", m)
		}
	}
	// Where the time goes: one pass over the store (what the first level
	// costs here), and the Bucket's answer for the whole range.
	start := time.Now()
	var fp bucket.Fingerprint
	seen := 0
	if err := local.ScanIDs(ctx, "bench", "", "", func(h bridge.HeldRecord) error {
		fp.Add(bucket.RecordDigest(h.ID, h.Hash))
		seen++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("one ScanIDs pass over %d records with their digests: %s", seen, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	a, err := client.Reconcile(ctx, bucket.ReconcileQuery{Module: "bench", Parts: reconcile.DefaultParts, List: reconcile.DefaultList})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the Bucket's answer for the whole range (%d records, %d parts): %s", a.Count, len(a.Parts), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	cr, err := client.ReconcileChain(ctx, "bench", 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the Bucket's chain report (%d records, %d gaps): %s", cr.Records, cr.Gaps, time.Since(start).Round(time.Millisecond))
}

// uuid7 is a UUIDv7-shaped id of t's millisecond and n.
func uuid7(t time.Time, n uint64) string {
	ms := uint64(t.UnixMilli())
	return fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x", ms>>16, ms&0xffff, (n>>48)&0xfff, 0x8000|(n>>32)&0x3fff, n&0xffffffffffff)
}
