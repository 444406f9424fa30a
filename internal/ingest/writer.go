// Package ingest is what happens to an update between the HTTP handler and
// the store: its identity (record id, session id, dedupe key) and the one
// group-commit writer that every ingest request shares, with backpressure.
// A record is acknowledged only once the writer has committed it.
package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"corebridge/internal/bridge"
)

// Defaults of Config.
const (
	DefaultMaxBatch   = 1024      // records per group commit
	DefaultMaxPending = 1_000_000 // records waiting for delivery before ingest refuses
)

// Config holds the writer's settings; zero values get the defaults.
type Config struct {
	// MaxBatch bounds the records of one group commit (default DefaultMaxBatch).
	MaxBatch int
	// MaxPending refuses ingest past this many pending records (default
	// DefaultMaxPending; < 0 = no bound).
	MaxPending int64
	// Wait, if > 0, is how long the writer may wait for more requests when
	// several were queued (see Writer; default none).
	Wait time.Duration
	// OnCommit, when set, is called after records are committed, to wake
	// the forwarder.
	OnCommit func()
	// Observe, when set, is told of every group commit: its records, how
	// long it took and whether it failed.
	Observe func(records int, took time.Duration, err error)
	// Guard, when set, refuses every request while the disk is almost
	// full, before anything is written; a failed commit makes it look again.
	Guard *DiskGuard
}

// Writer is the one group-commit writer that every ingest request shares,
// so that acknowledged means stored and many requests share one fsync. It
// takes whatever requests are waiting when it is free, up to MaxBatch
// records, writes them in one transaction and then answers each. Under
// load the queue fills itself while the previous commit runs. With a wait
// set (off by default), when it finds several requests waiting it waits up
// to that long for more, so that one commit and one fsync serve more
// records (the idea of PostgreSQL's commit_delay with commit_siblings).
// That saves CPU when the cores are the bound (many producers, delivery
// sharing the machine) and costs throughput when the writer is (few
// producers): see docs/benchmarks.md.
type Writer struct {
	store      bridge.Appender
	prober     bridge.DedupeProber     // store, if it is one
	deferred   bridge.DeferredAppender // store, if it is one: commits and syncs apart (sync.go)
	log        *slog.Logger
	maxBatch   int
	maxPending int64 // 0: no bound
	wait       time.Duration
	onCommit   func()
	observe    func(records int, took time.Duration, err error)
	guard      *DiskGuard

	in   chan *commitReq // unbuffered: a send pairs with the writer, so nothing is stranded at stop
	quit chan struct{}
	once sync.Once

	syncs syncQueue // commits waiting for their sync (deferred only)

	pending int64       // writer goroutine only: at least the pending records in the store
	stale   atomic.Bool // pending grew outside the writer (a replay): re-read it

	// Writer goroutine only: what the operator was last told.
	refused       int64     // records refused since ingest started refusing; 0: accepting
	failedCommits int       // commits failed in a row; 0: commits succeed
	failLogged    time.Time // when a storage fault was last logged
}

// failLogEvery is how often a storage fault that lasts is logged again.
const failLogEvery = time.Minute

type commitReq struct {
	recs []bridge.NewRecord
	res  []bridge.Appended
	err  error
	done chan struct{}
}

// New returns a writer over store; Run runs it.
func New(store bridge.Appender, log *slog.Logger, cfg Config) *Writer {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	switch {
	case cfg.MaxPending == 0:
		cfg.MaxPending = DefaultMaxPending
	case cfg.MaxPending < 0:
		cfg.MaxPending = 0
	}
	prober, _ := store.(bridge.DedupeProber)
	deferred, _ := store.(bridge.DeferredAppender)
	w := &Writer{
		store: store, prober: prober, deferred: deferred, log: log, maxBatch: cfg.MaxBatch, maxPending: cfg.MaxPending, wait: cfg.Wait,
		onCommit: cfg.OnCommit, observe: cfg.Observe, guard: cfg.Guard,
		in: make(chan *commitReq), quit: make(chan struct{}),
	}
	w.syncs.init()
	return w
}

// PendingChanged tells the writer that records became pending outside it
// (dead letters replayed), so that its estimate is read again before the
// next commit and --max-pending holds.
func (w *Writer) PendingChanged() { w.stale.Store(true) }

// MaxPending is the bound on pending records past which ingest refuses;
// 0: none.
func (w *Writer) MaxPending() int64 { return w.maxPending }

// Submit hands recs to the writer and waits until they are committed (or
// refused). The caller's context only bounds the wait to be taken in; once
// taken, the commit completes and its result is returned, so that a record
// is never stored without its producer being answered while it still waits.
func (w *Writer) Submit(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	if w.prober != nil {
		// The store's disk lookups for these keys, here, in the
		// producer's goroutine: the commit then only asks what changed.
		w.prober.ProbeDedupe(ctx, recs)
	}
	req := &commitReq{recs: recs, done: make(chan struct{})}
	select {
	case w.in <- req:
	case <-w.quit:
		return nil, bridge.Errorf(bridge.EUNAVAILABLE, "shutting down")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-req.done
	return req.res, req.err
}

// Run commits what is submitted until ctx ends. Then Submit refuses new
// records, and Run commits whatever is still being handed in and returns
// nil: every commit taken in is done. Run must be called once.
func (w *Writer) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { w.once.Do(func() { close(w.quit) }) })
	defer stop()
	if w.maxPending > 0 {
		w.readPending()
	}
	if w.deferred != nil {
		synced := make(chan struct{})
		go func() {
			defer close(synced)
			w.runSyncs()
		}()
		defer func() {
			w.syncs.close()
			<-synced
		}()
	}
	for {
		var first *commitReq
		select {
		case first = <-w.in:
		case <-w.quit:
			for {
				select {
				case r := <-w.in:
					w.commit([]*commitReq{r})
				default:
					return nil
				}
			}
		}
		group, n := []*commitReq{first}, len(first.recs)
	drain:
		for n < w.maxBatch {
			select {
			case r := <-w.in:
				group = append(group, r)
				n += len(r.recs)
			default:
				break drain
			}
		}
		if w.deferred != nil && n < w.maxBatch {
			group, n = w.whileAhead(group, n)
		}
		if w.wait > 0 && n < w.maxBatch {
			group = w.gather(group, n)
		}
		w.commit(group)
	}
}

// gather waits up to w.wait for more requests, when the ones found
// waiting show that producers are sending concurrently: until the group
// is twice what queued during the last commit. A lone request (the
// producers are idle, or there is just one) never waits.
func (w *Writer) gather(group []*commitReq, n int) []*commitReq {
	if len(group) < 2 {
		return group
	}
	want := min(2*n, w.maxBatch)
	t := time.NewTimer(w.wait)
	defer t.Stop()
	for n < want {
		select {
		case r := <-w.in:
			group = append(group, r)
			n += len(r.recs)
		case <-t.C:
			return group
		case <-w.quit:
			return group
		}
	}
	return group
}

func (w *Writer) commit(group []*commitReq) {
	// The disk guard (which logs its own way down and back) refuses
	// before anything is written.
	if err := w.guard.Refusal(); err != nil {
		for _, r := range group {
			r.err = err
			close(r.done)
		}
		return
	}
	// Backpressure: refuse requests that would take the queue over
	// maxPending. The estimate only grows between store readings, so it is
	// re-read before refusing anyone (once per group, so that a flood of
	// refused requests does not become a flood of store reads).
	admitted := group[:0:0]
	var recs []bridge.NewRecord
	reread := false
	if w.maxPending > 0 && w.stale.Swap(false) {
		w.readPending()
		reread = true
	}
	for _, r := range group {
		if w.maxPending > 0 && w.pending+int64(len(r.recs)) > w.maxPending && !reread {
			w.readPending()
			reread = true
		}
		if w.maxPending > 0 && w.pending+int64(len(r.recs)) > w.maxPending {
			r.err = ErrQueueFull
			if w.refused == 0 {
				w.log.Warn("ingest refusing: queue is full", "pending", w.pending, "max_pending", w.maxPending)
			}
			w.refused += int64(len(r.recs))
			close(r.done)
			continue
		}
		if w.refused > 0 {
			w.log.Info("ingest accepts again", "pending", w.pending, "max_pending", w.maxPending, "refused", w.refused)
			w.refused = 0
		}
		w.pending += int64(len(r.recs))
		admitted = append(admitted, r)
		recs = append(recs, r.recs...)
	}
	if len(admitted) == 0 {
		return
	}
	start := time.Now()
	appendRecs := w.store.Append
	if w.deferred != nil {
		appendRecs = w.deferred.AppendDeferred
	}
	appendRecs = appendHook(appendRecs) // unchanged but in a test build (testhook.go)
	res, err := appendRecs(context.Background(), recs)
	for err != nil {
		// A reused key with another payload refuses its own request only:
		// the others of the group are committed without it.
		rest, more := w.refuseConflict(admitted, recs, err)
		if len(rest) == len(admitted) {
			break // not a conflict: the whole group fails
		}
		if admitted, recs = rest, more; len(admitted) == 0 {
			return
		}
		res, err = appendRecs(context.Background(), recs)
	}
	if err != nil {
		if w.observe != nil {
			w.observe(len(recs), time.Since(start), err)
		}
		w.failedCommits++
		w.logFailed(len(recs), err)
		w.guard.Poke() // the disk may have filled since its last look
		answer(admitted, nil, err)
		return
	}
	if w.failedCommits > 0 {
		w.log.Info("commits succeed again", "failed_commits", w.failedCommits)
		w.failedCommits = 0
	}
	if w.deferred != nil {
		// Answered once the disk has it (runSyncs).
		w.syncs.push(syncBatch{reqs: admitted, res: res, records: len(recs), start: start})
		return
	}
	if w.observe != nil {
		w.observe(len(recs), time.Since(start), nil)
	}
	if w.onCommit != nil {
		w.onCommit()
	}
	answer(admitted, res, nil)
}

// answer gives each request its part of res (in order), or err.
func answer(reqs []*commitReq, res []bridge.Appended, err error) {
	i := 0
	for _, r := range reqs {
		if err != nil {
			r.err = err
		} else {
			r.res = res[i : i+len(r.recs)]
		}
		i += len(r.recs)
		close(r.done)
	}
}

// refuseConflict answers the request whose record err (from Append of
// recs) refuses for a reused dedupe key (bridge.KeyConflict), with the
// record's index within that request, and returns the other requests and
// their records to commit again. For any other error it returns admitted
// and recs as they were.
func (w *Writer) refuseConflict(admitted []*commitReq, recs []bridge.NewRecord, err error) ([]*commitReq, []bridge.NewRecord) {
	var kc *bridge.KeyConflict
	if !errors.As(err, &kc) || kc.Index < 0 || kc.Index >= len(recs) {
		return admitted, recs
	}
	rest := admitted[:0:0]
	var more []bridge.NewRecord
	i := 0
	for _, r := range admitted {
		if at := kc.Index - i; at >= 0 && at < len(r.recs) {
			own := *kc
			own.Index = at
			r.err = bridge.ConflictError(&own)
			w.pending -= int64(len(r.recs))
			close(r.done)
		} else {
			rest = append(rest, r)
			more = append(more, r.recs...)
		}
		i += len(r.recs)
	}
	return rest, more
}

// logFailed logs a failed commit. A storage fault (EUNAVAILABLE: a full
// disk, a read-only file) is a state that lasts while producers retry:
// WARN when commits start failing, then at most every failLogEvery. Any
// other failure is logged at ERROR each time.
func (w *Writer) logFailed(records int, err error) {
	if bridge.ErrorCode(err) != bridge.EUNAVAILABLE {
		w.log.Error("commit failed", "records", records, "err", err)
		return
	}
	if now := time.Now(); w.failedCommits == 1 || now.Sub(w.failLogged) >= failLogEvery {
		w.failLogged = now
		w.log.Warn("commit failed: storage unavailable", "records", records, "failed_commits", w.failedCommits, "err", err)
	}
}

func (w *Writer) readPending() {
	st, err := w.store.Stats(context.Background())
	if err != nil {
		w.log.Error("read pending count", "err", err)
		return
	}
	w.pending = st.Pending
}
