package ingest

import (
	"context"
	"sync"
	"time"

	"corebridge/internal/bridge"
)

// With a store that commits and syncs apart (bridge.DeferredAppender), a
// group commit goes through two stages: the writer goroutine commits a
// batch and hands it here; runSyncs makes every batch handed in durable
// with one Sync, then answers their requests and wakes the forwarder. The
// writer commits the next batch while the sync runs, but at most one batch
// is ever committed ahead of the sync in progress: while one waits, the
// writer keeps gathering requests (whileAhead), so that each sync covers
// what arrived during the one before, rather than many small commits that
// each write the same pages again.

// syncBatch is one committed group waiting for its sync.
type syncBatch struct {
	reqs    []*commitReq
	res     []bridge.Appended
	records int
	start   time.Time // when its commit began: Observe sees commit + sync
}

// syncQueue holds committed batches until runSyncs takes them.
type syncQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	batches []syncBatch
	closed  bool
	taken   chan struct{} // signalled when runSyncs takes the batches
}

func (q *syncQueue) init() {
	q.cond = sync.NewCond(&q.mu)
	q.taken = make(chan struct{}, 1)
}

func (q *syncQueue) push(b syncBatch) {
	q.mu.Lock()
	q.batches = append(q.batches, b)
	q.mu.Unlock()
	q.cond.Signal()
}

// waiting reports whether a committed batch waits for a sync to start.
func (q *syncQueue) waiting() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.batches) > 0
}

// take waits for batches and returns them all; nil once closed and empty.
func (q *syncQueue) take() []syncBatch {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.batches) == 0 && !q.closed {
		q.cond.Wait()
	}
	b := q.batches
	q.batches = nil
	select {
	case q.taken <- struct{}{}:
	default:
	}
	return b
}

// close lets runSyncs finish what is queued and return.
func (q *syncQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// whileAhead keeps taking requests into group while a committed batch
// still waits for its sync to start, up to MaxBatch records.
func (w *Writer) whileAhead(group []*commitReq, n int) ([]*commitReq, int) {
	for n < w.maxBatch && w.syncs.waiting() {
		select {
		case r := <-w.in:
			group = append(group, r)
			n += len(r.recs)
		case <-w.syncs.taken:
		case <-w.quit:
			return group, n
		}
	}
	return group, n
}

// runSyncs syncs and answers committed batches until the queue is closed
// and empty.
func (w *Writer) runSyncs() {
	for {
		batches := w.syncs.take()
		if batches == nil {
			return
		}
		// A failed sync is final: the store refuses later commits
		// itself, so this is logged once, and those through logFailed.
		err := w.deferred.Sync(context.Background())
		if err != nil {
			w.log.Error("sync to disk failed: commits not acknowledged", "err", err)
		} else if w.onCommit != nil {
			w.onCommit()
		}
		for _, b := range batches {
			if w.observe != nil {
				w.observe(b.records, time.Since(b.start), err)
			}
			answer(b.reqs, b.res, err)
		}
	}
}
