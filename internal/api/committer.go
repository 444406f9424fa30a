package api

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"corebridge/internal/bridge"
)

// committer is the one group-commit writer that every ingest request shares
// (guarantee 1). It takes whatever requests are waiting when it is free, up
// to maxBatch records, writes them in one transaction and then answers each.
// Under load the queue fills itself while the previous commit runs. With
// a wait set (off by default), when it finds several requests waiting it
// waits up to that long for more, so that one commit and one fsync serve
// more records (the idea of PostgreSQL's commit_delay with
// commit_siblings). That saves CPU when the cores are the bound (many
// producers, delivery sharing the machine) and costs throughput when the
// writer is (few producers): see docs/benchmarks.md.
type committer struct {
	store      bridge.Store
	log        *slog.Logger
	maxBatch   int
	maxPending int64
	wait       time.Duration // longest wait for more requests; 0: none

	in      chan *commitReq // unbuffered: a send pairs with the writer, so nothing is stranded at stop
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once

	pending int64        // writer goroutine only: at least the pending records in the store
	lastErr atomic.Value // error string of the last failed commit, "" after a success

	// Counters for benchmarks and metrics.
	commits     atomic.Int64
	records     atomic.Int64
	afterCommit func() // wakes the forwarder
	observe     func(records int, took time.Duration)
}

type commitReq struct {
	recs []bridge.NewRecord
	res  []bridge.Appended
	err  error
	done chan struct{}
}

func newCommitter(store bridge.Store, log *slog.Logger, maxBatch int, maxPending int64, wait time.Duration) *committer {
	c := &committer{
		store: store, log: log, maxBatch: maxBatch, maxPending: maxPending, wait: wait,
		in: make(chan *commitReq), quit: make(chan struct{}), stopped: make(chan struct{}),
	}
	c.lastErr.Store("")
	return c
}

// submit hands recs to the writer and waits until they are committed (or
// refused). The caller's context only bounds the wait to be taken in; once
// taken, the commit completes and its result is returned, so that a record
// is never stored without its producer being answered while it still waits.
func (c *committer) submit(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	req := &commitReq{recs: recs, done: make(chan struct{})}
	select {
	case c.in <- req:
	case <-c.quit:
		return nil, bridge.Errorf(bridge.EUNAVAILABLE, "shutting down")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-req.done
	return req.res, req.err
}

// run is the writer loop. After stop it commits whatever is still being
// handed in, then returns.
func (c *committer) run() {
	defer close(c.stopped)
	if c.maxPending > 0 {
		c.readPending()
	}
	for {
		var first *commitReq
		select {
		case first = <-c.in:
		case <-c.quit:
			for {
				select {
				case r := <-c.in:
					c.commit([]*commitReq{r})
				default:
					return
				}
			}
		}
		group, n := []*commitReq{first}, len(first.recs)
	drain:
		for n < c.maxBatch {
			select {
			case r := <-c.in:
				group = append(group, r)
				n += len(r.recs)
			default:
				break drain
			}
		}
		if c.wait > 0 && n < c.maxBatch {
			group, n = c.gather(group, n)
		}
		c.commit(group)
	}
}

// gather waits up to c.wait for more requests, when the ones found
// waiting show that producers are sending concurrently: until the group
// is twice what queued during the last commit. A lone request (the
// producers are idle, or there is just one) never waits.
func (c *committer) gather(group []*commitReq, n int) ([]*commitReq, int) {
	if len(group) < 2 {
		return group, n
	}
	want := min(2*n, c.maxBatch)
	t := time.NewTimer(c.wait)
	defer t.Stop()
	for n < want {
		select {
		case r := <-c.in:
			group = append(group, r)
			n += len(r.recs)
		case <-t.C:
			return group, n
		case <-c.quit:
			return group, n
		}
	}
	return group, n
}

// stop makes new submits fail and waits for the writer to finish.
func (c *committer) stop() {
	c.once.Do(func() { close(c.quit) })
	<-c.stopped
}

func (c *committer) commit(group []*commitReq) {
	// Backpressure: refuse requests that would take the queue over
	// maxPending. The estimate only grows between store readings, so it is
	// re-read before refusing anyone (once per group, so that a flood of
	// refused requests does not become a flood of store reads).
	admitted := group[:0:0]
	var recs []bridge.NewRecord
	reread := false
	for _, r := range group {
		if c.maxPending > 0 && c.pending+int64(len(r.recs)) > c.maxPending && !reread {
			c.readPending()
			reread = true
		}
		if c.maxPending > 0 && c.pending+int64(len(r.recs)) > c.maxPending {
			r.err = &bridge.Error{Code: bridge.EUNAVAILABLE,
				Message: "queue is full: too many records waiting for delivery; retry later"}
			close(r.done)
			continue
		}
		c.pending += int64(len(r.recs))
		admitted = append(admitted, r)
		recs = append(recs, r.recs...)
	}
	if len(admitted) == 0 {
		return
	}
	start := time.Now()
	res, err := c.store.Append(context.Background(), recs)
	if c.observe != nil {
		c.observe(len(recs), time.Since(start))
	}
	if err != nil {
		c.lastErr.Store(err.Error())
		c.log.Error("commit failed", "records", len(recs), "err", err)
	} else {
		c.lastErr.Store("")
		c.commits.Add(1)
		c.records.Add(int64(len(recs)))
		if c.afterCommit != nil {
			c.afterCommit()
		}
	}
	i := 0
	for _, r := range admitted {
		if err != nil {
			r.err = err
		} else {
			r.res = res[i : i+len(r.recs)]
		}
		i += len(r.recs)
		close(r.done)
	}
}

func (c *committer) readPending() {
	st, err := c.store.Stats(context.Background())
	if err != nil {
		c.log.Error("read pending count", "err", err)
		return
	}
	c.pending = st.Pending
}

// storeError returns the error of the last commit if it failed.
func (c *committer) storeError() string { return c.lastErr.Load().(string) }
