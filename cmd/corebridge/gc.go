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
// a few MB plus the store's dedupe keys (~56 bytes each). With a small
// heap Go's default (100) collected ~35 times a second under load; at 400
// ingest alone measured +5% to +10% (four rounds alternating, 64
// connections). But the target is a multiple of the live heap, and a store
// of millions of keys would then let garbage grow to gigabytes. So the
// target gives the heap gcHeadroom to grow, between 100 and 400 percent of
// what is live, and is looked at again every gcTuneEvery.
const (
	gcMaxPercent = 400
	gcMinPercent = 100
	gcHeadroom   = 40 << 20
	gcTuneEvery  = 30 * time.Second
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
	set := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(gcPercentFor(sample[0].Value.Uint64()))
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
