package postgres

import (
	"context"
	"fmt"

	"corebridge/internal/bridge"

	"github.com/jackc/pgx/v5"
)

// Prune deletes up to Limit synced records synced before the cutoff,
// oldest first (with their dedupe keys and edits), up to Limit attempts
// made before AttemptsBefore, and the rollups of minutes before
// RollupsBefore, in one transaction. Counters are left as they are:
// Synced counts every record ever synced.
func (s *Store) Prune(ctx context.Context, p bridge.PruneParams) (int, error) {
	if p.Limit <= 0 {
		p.Limit = 10000
	}
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		if !p.AttemptsBefore.IsZero() {
			// A dead letter keeps its whole history until it is replayed or
			// purged: attempts that include a record dead now stay (a seek
			// in records_dead each).
			if _, err := tx.Exec(ctx, `DELETE FROM attempts WHERE n = ANY(ARRAY(
				SELECT a.n FROM attempts a WHERE a.at < $1 AND NOT EXISTS (
					SELECT 1 FROM records r WHERE r.module = a.module AND r.state = 2
						AND r.seq BETWEEN a.first_seq AND a.last_seq)
				ORDER BY a.at, a.n LIMIT $2))`, micros(p.AttemptsBefore), p.Limit); err != nil {
				return fmt.Errorf("attempts: %w", err)
			}
		}
		if !p.RollupsBefore.IsZero() {
			if _, err := tx.Exec(ctx, `DELETE FROM rollups WHERE minute < $1`, minuteOf(p.RollupsBefore)); err != nil {
				return fmt.Errorf("rollups: %w", err)
			}
		}
		// The oldest synced records, read from records_synced (= ANY of an
		// array, so that they are deleted by the primary key, never by a
		// scan of the table).
		rows, err := tx.Query(ctx, `DELETE FROM records WHERE state = 1 AND seq = ANY(ARRAY(
			SELECT seq FROM records WHERE state = 1 AND synced_at < $1 ORDER BY synced_at LIMIT $2))
			RETURNING id, module, hash, prev_hash`, micros(p.SyncedBefore), p.Limit)
		if err != nil {
			return err
		}
		ids, _, gone, err := collectGone(rows)
		if err != nil || len(ids) == 0 {
			return err
		}
		if err := skipOver(ctx, tx, gone, true); err != nil {
			return err
		}
		// A later record with a pruned record's key is new; its edits go
		// with it.
		if _, err := tx.Exec(ctx, `DELETE FROM dedupe_keys WHERE record_id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM edits WHERE record_id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("edits: %w", err)
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, unavailable("prune", err)
	}
	return n, nil
}
