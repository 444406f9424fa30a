package sqlite

import (
	"context"
	"database/sql"
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
	gone, err := deleteRecords(ctx, tx, perModule, true, `DELETE FROM records WHERE seq IN (
		SELECT seq FROM records WHERE state = 1 AND synced_at < ? ORDER BY synced_at LIMIT ?)`, micros(p.SyncedBefore), p.Limit)
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	more, err := s.pruneByPosition(ctx, tx, perModule, micros(p.SyncedBefore), p.Limit-total(perModule))
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	gone = append(gone, more...)
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
	if err := s.commit(tx); err != nil {
		return 0, fmt.Errorf("prune: commit: %w", err)
	}
	if len(perModule) > 0 {
		if err := s.loadChains(ctx); err != nil {
			return 0, fmt.Errorf("prune: %w", err)
		}
	}
	s.keys.drop(gone)
	s.keys.forgetRuns(runs)
	return total(perModule), nil
}

func total(perModule map[string]int64) int {
	n := 0
	for _, c := range perModule {
		n += int(c)
	}
	return n
}

// pruneByPosition deletes up to limit records synced by position (see
// Settle) before the cutoff: in each module, those in state 0 at or below
// the position its last mark before the cutoff reached. Once a module
// has none left there, its marks below go too.
func (s *Store) pruneByPosition(ctx context.Context, tx *sql.Tx, perModule map[string]int64, before int64, limit int) ([]keyAt, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT m.module, (SELECT k.seq FROM sync_marks k
		WHERE k.module = m.module AND k.sec < ?1 / 1000000 ORDER BY k.sec DESC LIMIT 1)
		FROM modules m WHERE m.synced_seq > 0`, before)
	if err != nil {
		return nil, err
	}
	type upTo struct {
		module string
		seq    int64
	}
	var mods []upTo
	for rows.Next() {
		var m string
		var seq sql.NullInt64
		if err := rows.Scan(&m, &seq); err != nil {
			rows.Close()
			return nil, err
		}
		if seq.Valid {
			mods = append(mods, upTo{m, seq.Int64})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var gone []keyAt
	for _, u := range mods {
		if limit <= 0 {
			break
		}
		n0 := perModule[u.module]
		keys, err := deleteRecords(ctx, tx, perModule, true, `DELETE FROM records WHERE seq IN (
			SELECT seq FROM records WHERE module = ? AND state = 0 AND seq <= ? ORDER BY seq LIMIT ?)`, u.module, u.seq, limit)
		if err != nil {
			return nil, err
		}
		gone = append(gone, keys...)
		n := int(perModule[u.module] - n0)
		if n < limit {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sync_marks WHERE module = ? AND seq < ?`, u.module, u.seq); err != nil {
				return nil, err
			}
		}
		limit -= n
	}
	return gone, nil
}
