// Package maintenance is work that keeps the store in shape in the
// background, apart from ingest and delivery: today the retention janitor.
// With several replicas sharing a store, this is the work that runs on one
// of them only.
package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"corebridge/internal/bridge"
)

// Janitor defaults.
const (
	DefaultRetention = 7 * 24 * time.Hour
	DefaultInterval  = time.Minute
)

// pruneStep bounds one Prune call, so that ingest is never blocked for long.
const pruneStep = 5000

// JanitorConfig configures a Janitor; zero values get the defaults.
type JanitorConfig struct {
	// Retention: synced records (and attempts) older than this are pruned
	// (default DefaultRetention).
	Retention time.Duration
	// Interval between two passes (default DefaultInterval).
	Interval time.Duration
	// Now is the wall clock (default time.Now).
	Now func() time.Time
	// Mono is a monotonic clock: the time elapsed since an arbitrary
	// start, untouched by steps of the wall clock (default: time.Now's
	// monotonic reading). It bounds how far a pass's cutoff may move.
	Mono func() time.Duration
	// Lead, when set, says whether this process leads the replicas that
	// share the store: a pass runs only on the leader, once per interval
	// for them all. nil: always (a store of one process).
	Lead func() bool
}

// Janitor prunes synced records (and attempt history) older than the
// retention. Dead letters stay until replayed or purged; pending records
// are never pruned.
type Janitor struct {
	store     bridge.Pruner
	log       *slog.Logger
	retention time.Duration
	interval  time.Duration
	now       func() time.Time
	mono      func() time.Duration
	lead      func() bool
	steps     stepGuard
}

// NewJanitor checks cfg once and returns a janitor over store.
func NewJanitor(store bridge.Pruner, log *slog.Logger, cfg JanitorConfig) (*Janitor, error) {
	if store == nil {
		return nil, errors.New("janitor: no store")
	}
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("janitor: retention must be positive, not %s", cfg.Retention)
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("janitor: interval must be positive, not %s", cfg.Interval)
	}
	j := &Janitor{store: store, log: log, retention: cfg.Retention, interval: cfg.Interval, now: cfg.Now, lead: cfg.Lead}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	if j.retention == 0 {
		j.retention = DefaultRetention
	}
	if j.interval == 0 {
		j.interval = DefaultInterval
	}
	if j.now == nil {
		j.now = time.Now
	}
	if j.mono = cfg.Mono; j.mono == nil {
		start := time.Now()
		j.mono = func() time.Duration { return time.Since(start) }
	}
	return j, nil
}

// Run prunes at once and then every interval until ctx is cancelled.
func (j *Janitor) Run(ctx context.Context) error {
	t := time.NewTicker(j.interval)
	defer t.Stop()
	for {
		if j.lead != nil && !j.lead() {
			// Another replica leads and prunes.
		} else if _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil {
			j.log.Error("prune", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce prunes everything past the retention, in bounded steps so that
// ingest is never blocked for long, and returns how many records it pruned.
func (j *Janitor) RunOnce(ctx context.Context) (int, error) {
	now := j.steps.now(j.log, j.now(), j.mono())
	cutoff := bridge.Truncate(now.Add(-j.retention))
	// Rollups stay at least a day and a bit: the 24 h figures read them.
	rollups := cutoff
	if day := now.Add(-25 * time.Hour); day.Before(rollups) {
		rollups = day
	}
	rollups = bridge.Minute(rollups)
	total := 0
	for ctx.Err() == nil {
		n, err := j.store.Prune(ctx, bridge.PruneParams{SyncedBefore: cutoff, AttemptsBefore: cutoff, RollupsBefore: rollups, Limit: pruneStep})
		total += n
		if err != nil {
			return total, err
		}
		if n < pruneStep {
			break
		}
	}
	if total > 0 {
		j.log.Info("pruned synced records past retention", "records", total, "retention", j.retention)
	}
	return total, nil
}
