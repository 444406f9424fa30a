package sqlite

import (
	"context"
	"fmt"

	"corebridge/internal/bridge"
)

// Prune deletes synced records synced before the cutoff, oldest first.
func (s *Store) Prune(ctx context.Context, p bridge.PruneParams) (int, error) {
	if p.Limit <= 0 {
		p.Limit = 10000
	}
	if !p.AttemptsBefore.IsZero() {
		// A dead letter keeps its whole history until it is replayed or
		// purged: attempts that include a dead record stay.
		if _, err := s.w.ExecContext(ctx, `DELETE FROM attempts WHERE id IN (
			SELECT a.id FROM attempts a WHERE a.at < ? AND NOT EXISTS (
				SELECT 1 FROM records r WHERE r.module = a.module AND r.state = 2 AND r.seq BETWEEN a.first_seq AND a.last_seq)
			ORDER BY a.at LIMIT ?)`, micros(p.AttemptsBefore), p.Limit); err != nil {
			return 0, fmt.Errorf("prune attempts: %w", err)
		}
	}
	if !p.RollupsBefore.IsZero() {
		// A janitor pass every few minutes finds a few rows per module.
		if _, err := s.w.ExecContext(ctx, `DELETE FROM rollups WHERE minute < ?`, minuteOf(bridge.Minute(p.RollupsBefore))); err != nil {
			return 0, fmt.Errorf("prune rollups: %w", err)
		}
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune: begin: %w", err)
	}
	defer tx.Rollback()
	perModule := map[string]int64{}
	gone, err := deleteRecords(ctx, tx, perModule, `DELETE FROM records WHERE seq IN (
		SELECT seq FROM records WHERE state = 1 AND synced_at < ? ORDER BY synced_at LIMIT ?)
		RETURNING module, seq, dedupe_key`, micros(p.SyncedBefore), p.Limit)
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	if len(perModule) > 0 {
		// The edits of records no longer stored (pruned now, or purged):
		// edits are few, made by hand to dead letters.
		if _, err := tx.ExecContext(ctx, `DELETE FROM edits WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.id = edits.record)`); err != nil {
			return 0, fmt.Errorf("prune edits: %w", err)
		}
	}
	runs, err := s.dropRuns(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune: commit: %w", err)
	}
	s.keys.drop(gone)
	s.keys.forgetRuns(runs)
	n := 0
	for _, c := range perModule {
		n += int(c)
	}
	return n, nil
}
