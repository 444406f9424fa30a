package main

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// serve's garbage-collection target, unless GOGC is set. Its live heap is
// a few MB plus the store's dedupe index (--dedupe-memory, 32 MiB at
// most). With a small heap Go's default (100) collected ~35 times a second
// under load; at 400 ingest alone measured +5% to +10% (four rounds
// alternating, 64 connections). But the target is a multiple of the live
// heap, so the target gives the heap gcHeadroom to grow, between 50 and
// 400 percent of what is live, and is looked at again every gcTuneEvery:
// the live heap grows in the first seconds (the dedupe filter is built
// after open, reading every run), and looked at every 30 s, with a floor
// of 100%, serve reached 146 MiB at ten million keys stored with a 50 MB
// live heap (every 5 s: 139 MiB). A look costs a metrics read; the target
// is set only when it changes.
const (
	gcMaxPercent = 400
	gcMinPercent = 50
	gcHeadroom   = 40 << 20
	gcTuneEvery  = time.Second
)

// gcPercentFor is the target for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	return int(min(max(gcHeadroom*100/live, gcMinPercent), gcMaxPercent))
}

// tuneGC sets the target now and keeps it in step with the live heap until
// ctx ends, unless the user chose with GOGC (which the runtime reads from
// the process environment itself).
func tuneGC(ctx context.Context) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	// The live heap is what the last collection found: collect once, so
	// that the first target counts what opening the store just read (at
	// ten million keys stored, 400% of the heap before it let the dedupe
	// filter's build at open take serve to 150 MiB).
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := -1
	set := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := gcPercentFor(sample[0].Value.Uint64()); p != last {
				debug.SetGCPercent(p)
				last = p
			}
		}
	}
	set()
	go func() {
		t := time.NewTicker(gcTuneEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				set()
			}
		}
	}()
}
