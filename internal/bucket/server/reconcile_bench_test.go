package server_test

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/buckettest"
	"corebridge/internal/bucket/server"
)

// BenchmarkReconcile1M answers reconcile queries over 1,000,000 chained
// records of one module, UUIDv7 ids one millisecond apart (so 256 to a
// level-2 slot, 65,536 to a level-1 slot), built through the store's Put
// in transactions of 20,000. whole: the whole range; part: a part of it;
// deep: a part inside one level-2 slot (read record by record); walk: a
// sender's descent over HTTP from the whole range to a listed one
// (requests/op); chain: the chain report, whole and with a gap.
func BenchmarkReconcile1M(b *testing.B) {
	const n, batch = 1_000_000, 20_000
	run := buckettest.Start(b, server.Config{})
	ctx := b.Context()
	r := rand.New(rand.NewPCG(7, 8))
	start := time.Now()
	prev := bucket.ZeroHash
	base := uint64(0x0193a6f27c1e)
	var ids []string
	for i := 0; i < n; i += batch {
		recs := make([]bucket.Record, batch)
		for j := range recs {
			id := uuid7(r, base+uint64(i+j))
			ids = append(ids, id)
			recs[j] = hashed(bucket.Record{ID: id, Module: "edu", SessionID: "s",
				Data: json.RawMessage(`{"i":` + strconv.Itoa(i+j) + `}`), ReceivedAt: "2026-11-29T14:00:00.000000Z"})
			recs[j].PrevHash, prev = prev, recs[j].Hash
		}
		if _, err := run.Store.Put(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built %d records in %v", n, time.Since(start).Round(time.Millisecond))
	ask := func(b *testing.B, from, to string) bucket.ReconcileAnswer {
		a, err := run.Store.Reconcile(ctx, server.ReconcileParams{Module: "edu", From: from, To: to, Parts: 16, List: 64})
		if err != nil {
			b.Fatal(err)
		}
		return a
	}
	whole := ask(b, "", "")
	part := whole.Parts[7]
	deep := ask(b, part.From, part.To).Parts[3]
	deep = ask(b, deep.From, deep.To).Parts[5]
	b.Logf("whole: %d parts; part [%s, %s) %d records; deep [%s, %s) %d records", len(whole.Parts), part.From, part.To, part.Count, deep.From, deep.To, deep.Count)
	for _, c := range []struct {
		name     string
		from, to string
	}{{"whole", "", ""}, {"part", part.From, part.To}, {"deep", deep.From, deep.To}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				ask(b, c.from, c.to)
			}
		})
	}
	b.Run("walk", func(b *testing.B) {
		target := ids[r.IntN(len(ids))]
		requests := 0
		for b.Loop() {
			from, to := "", ""
			for {
				requests++
				a := askReconcile(b, run.URL, "edu", from, to, 16, 64)
				if a.Parts == nil {
					break
				}
				for _, p := range a.Parts {
					if p.From <= target && (p.To == "" || target < p.To) {
						from, to = p.From, p.To
					}
				}
			}
		}
		b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	})
	chain := func(b *testing.B, gaps int64) {
		for b.Loop() {
			rep, err := run.Store.Chain(ctx, "edu", 100)
			if err != nil || rep.Gaps != gaps {
				b.Fatal(rep.Gaps, err)
			}
		}
	}
	b.Run("chain", func(b *testing.B) { chain(b, 0) })
	if _, err := sqlOpen(b, run.Store.Path()).Exec(`DELETE FROM records WHERE id = ?`, ids[n/2]); err != nil {
		b.Fatal(err)
	}
	b.Run("chain-gap", func(b *testing.B) { chain(b, 1) })
	b.Run("whole-after-delete", func(b *testing.B) {
		for b.Loop() {
			ask(b, "", "")
		}
	})
}
