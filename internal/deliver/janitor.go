package deliver

import (
	"context"
	"log/slog"
	"time"

	"corebridge/internal/bridge"
)

// Janitor prunes synced records (and attempt history) older than the
// retention. Dead letters stay until replayed or purged.
type Janitor struct {
	Store     bridge.Store
	Log       *slog.Logger
	Retention time.Duration // default 7 days
	Interval  time.Duration // default 1 min
	Now       func() time.Time
}

// Run prunes every Interval until ctx is cancelled.
func (j *Janitor) Run(ctx context.Context) error {
	if j.Interval <= 0 {
		j.Interval = time.Minute
	}
	t := time.NewTicker(j.Interval)
	defer t.Stop()
	for {
		if _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil && j.Log != nil {
			j.Log.Error("prune", "err", err)
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
	if j.Retention <= 0 {
		j.Retention = 7 * 24 * time.Hour
	}
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	cutoff := bridge.Truncate(now().Add(-j.Retention))
	const step = 5000
	total := 0
	for ctx.Err() == nil {
		// Rollups stay at least a day and a bit: the 24 h figures read them.
		rollups := cutoff
		if day := now().Add(-25 * time.Hour); day.Before(rollups) {
			rollups = day
		}
		rollups = bridge.Minute(rollups)
		n, err := j.Store.Prune(ctx, bridge.PruneParams{SyncedBefore: cutoff, AttemptsBefore: cutoff, RollupsBefore: rollups, Limit: step})
		total += n
		if err != nil {
			return total, err
		}
		if n < step {
			break
		}
	}
	if total > 0 && j.Log != nil {
		j.Log.Info("pruned synced records past retention", "records", total, "retention", j.Retention)
	}
	return total, nil
}
