// Package deliver is the forwarder: it leases batches of pending records
// from the store, one module at a time so that per-module order holds,
// sends them to the Bucket, and settles each record as synced, to retry
// (exponential backoff with full jitter), or dead, recording every attempt.
// A circuit breaker stops calling a Bucket that fails every call.
package deliver

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// Sender is the Bucket as the forwarder sees it; *bucket.Client is one.
type Sender interface {
	Send(ctx context.Context, recs []bridge.Record) ([]bucket.Result, error)
	Healthy(ctx context.Context) error
}

// Defaults of Config that serve's flags show.
const (
	DefaultBatchSize        = 500
	DefaultBatchBytes       = 1 << 20
	DefaultConcurrency      = 4
	DefaultMaxAttempts      = 12
	DefaultMaxAge           = 24 * time.Hour
	DefaultTimeout          = 30 * time.Second
	DefaultBreakerThreshold = 5
	DefaultBreakerCooldown  = 2 * time.Second
	// DefaultMaxRetryAfter bounds the wait a Bucket's Retry-After may ask
	// for. With the backoff cap it bounds every due time the forwarder
	// sets, which is what lets a due time further ahead (the wall clock
	// went back) count as due (bridge.LeaseParams.MaxWait).
	DefaultMaxRetryAfter = 10 * time.Minute
)

// clockMargin is added to the longest retry wait to make the lease's
// MaxWait: a due time further ahead than that is a clock step, not a wait.
const clockMargin = time.Minute

// Config holds the forwarder's settings; zero values get the defaults.
type Config struct {
	BatchSize   int           // records per batch (DefaultBatchSize)
	BatchBytes  int           // data bytes per batch (DefaultBatchBytes)
	Concurrency int           // batches in flight, each of a different module (DefaultConcurrency)
	MaxAttempts int           // dead after this many failed attempts (DefaultMaxAttempts)
	MaxAge      time.Duration // dead when a failing record is older than this (DefaultMaxAge)
	BackoffBase time.Duration // 1 s
	BackoffCap  time.Duration // 5 min
	// MaxRetryAfter is the longest Retry-After honoured (DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	Timeout       time.Duration // per send (DefaultTimeout)
	LeaseTTL      time.Duration // how long a lease holds without settling (Timeout + 30 s)
	Idle          time.Duration // poll interval when nothing is due (250 ms)
	// Linger is how long a caught-up worker waits for more records before
	// leasing again (100 ms), so that batches fill under a steady trickle
	// instead of costing three commits per handful of records.
	Linger           time.Duration
	BreakerThreshold int           // consecutive transient failures that open the breaker (DefaultBreakerThreshold)
	BreakerCooldown  time.Duration // probe interval while open (DefaultBreakerCooldown)
	Owner            string        // lease owner; stable across restarts of one instance
	BucketURL        string        // shown in status
	Now              func() time.Time
	Rand             func() float64
	// OnOutcome, when set, is called after every settled attempt.
	OnOutcome func(Outcome)
	// StrictOrder names the modules a dead record blocks until it is
	// replayed or purged (bridge.LeaseParams.Strict); DefaultStrictOrder
	// is none.
	StrictOrder bridge.StrictOrder
}

// DefaultStrictOrder is serve's --strict-order by default: off, a dead
// record lets later records of its module pass.
const DefaultStrictOrder = ""

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt(&c.BatchSize, DefaultBatchSize)
	defInt(&c.BatchBytes, DefaultBatchBytes)
	defInt(&c.Concurrency, DefaultConcurrency)
	defInt(&c.MaxAttempts, DefaultMaxAttempts)
	defInt(&c.BreakerThreshold, DefaultBreakerThreshold)
	def(&c.MaxAge, DefaultMaxAge)
	def(&c.BackoffBase, time.Second)
	def(&c.BackoffCap, 5*time.Minute)
	def(&c.MaxRetryAfter, DefaultMaxRetryAfter)
	def(&c.Timeout, DefaultTimeout)
	def(&c.LeaseTTL, c.Timeout+30*time.Second)
	def(&c.Idle, 250*time.Millisecond)
	def(&c.Linger, 100*time.Millisecond)
	def(&c.BreakerCooldown, DefaultBreakerCooldown)
	if c.Owner == "" {
		c.Owner = "corebridge"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
}

// Forwarder delivers pending records to the Bucket.
type Forwarder struct {
	store   bridge.Leaser
	sender  Sender
	log     *slog.Logger
	cfg     Config
	backoff Backoff
	breaker *Breaker
	sizer   *sizer
	logs    *logState
	wake    chan struct{}

	reachable atomic.Bool
	mu        sync.Mutex
	lastError string
	misconfig string // see bridge.DeliveryStatus.Misconfigured
	lastOK    time.Time
	// failingSince is the first failure of the current outage (a failed
	// delivery or check); zero while deliveries go through.
	failingSince time.Time
}

// New returns a forwarder; Run starts it.
func New(store bridge.Leaser, sender Sender, log *slog.Logger, cfg Config) *Forwarder {
	cfg.defaults()
	f := &Forwarder{
		store: store, sender: sender, log: log, cfg: cfg,
		backoff: Backoff{Base: cfg.BackoffBase, Cap: cfg.BackoffCap, Rand: cfg.Rand},
		breaker: &Breaker{Threshold: cfg.BreakerThreshold, Cooldown: cfg.BreakerCooldown},
		sizer:   newSizer(cfg.BatchBytes),
		logs:    newLogState(log, cfg),
		wake:    make(chan struct{}, cfg.Concurrency),
	}
	f.breaker.CheckFirst()
	f.reachable.Store(true)
	return f
}

// Notify wakes idle workers: new records were committed. It never blocks.
func (f *Forwarder) Notify() {
	for range cap(f.wake) {
		select {
		case f.wake <- struct{}{}:
		default:
			return
		}
	}
}

// Run delivers until ctx is cancelled, then lets the batches in flight
// finish and settle before it returns.
func (f *Forwarder) Run(ctx context.Context) error {
	if n, err := f.store.ReleaseLeases(context.WithoutCancel(ctx), f.cfg.Owner); err != nil {
		return err
	} else if n > 0 {
		f.log.Info("released leases left by an earlier run", "leases", n, "owner", f.cfg.Owner)
	}
	var wg sync.WaitGroup
	for range f.cfg.Concurrency {
		wg.Go(func() { f.worker(ctx) })
	}
	wg.Go(func() { f.prober(ctx) })
	wg.Wait()
	return nil
}

func (f *Forwarder) worker(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	sleep := func(d time.Duration, wake <-chan struct{}) {
		timer.Reset(d)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-timer.C:
		}
	}
	for ctx.Err() == nil {
		n, err := f.runOnce(ctx)
		switch {
		case bridge.IsLeaseLost(err):
			// Another worker or replica holds the module now and sends
			// the batch again: nothing is lost, but say so.
			f.log.Warn("delivery: lease lost before its settle", "err", err)
		case err != nil:
			f.log.Error("delivery", "err", err)
			sleep(f.cfg.Idle, nil)
		case n >= f.cfg.BatchSize:
			// A backlog: go on at once.
		case n > 0:
			// Caught up: let the next batch fill.
			sleep(f.cfg.Linger, nil)
		default:
			sleep(f.cfg.Idle, f.wake)
			if ctx.Err() == nil {
				sleep(f.cfg.Linger, nil)
			}
		}
	}
}

// prober asks an open breaker's Bucket, every cooldown, whether it is back.
func (f *Forwarder) prober(ctx context.Context) {
	t := time.NewTicker(min(f.cfg.BreakerCooldown/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.ProbeOnce(ctx)
		}
	}
}

// ProbeOnce probes the Bucket if the breaker is open and its cooldown has
// passed. It reports whether it probed.
func (f *Forwarder) ProbeOnce(ctx context.Context) bool {
	now := f.cfg.Now()
	if !f.breaker.ProbeDue(now) {
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	err := f.sender.Healthy(pctx)
	f.breaker.ProbeResult(err == nil, f.cfg.Now())
	if err == nil {
		f.logs.probeAnswered()
		f.Notify()
	}
	return true
}
