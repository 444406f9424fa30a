package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"corebridge/internal/bridge"
)

// Get returns one record by id.
func (s *Store) Get(ctx context.Context, id string) (bridge.Record, error) {
	recs, err := queryRecords(ctx, s.r, `SELECT `+recordCols+` FROM records WHERE id = ?`, id)
	if err != nil {
		return bridge.Record{}, fmt.Errorf("get record: %w", err)
	}
	if len(recs) == 0 {
		return bridge.Record{}, bridge.Errorf(bridge.ENOTFOUND, "record %q not found", id)
	}
	return recs[0], nil
}

// Stats sums the module counters and reads the oldest pending record.
func (s *Store) Stats(ctx context.Context) (bridge.Stats, error) {
	var st bridge.Stats
	var lastSync int64
	err := s.rs.queryRow(ctx, qStats, nil, &st.Received, &st.Pending, &st.Synced, &st.Dead, &lastSync)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	st.LastSyncAt = fromMicros(lastSync)
	var oldest int64
	// The oldest pending record is the oldest of the modules' heads: one
	// index seek per module, at any table size.
	err = s.rs.queryRow(ctx, qOldestPending, nil, &oldest)
	if err != nil && err != sql.ErrNoRows {
		return st, fmt.Errorf("stats: oldest pending: %w", err)
	}
	st.OldestPendingAt = fromMicros(oldest)
	return st, nil
}

// Modules returns every module's counters, sorted by name.
func (s *Store) Modules(ctx context.Context) ([]bridge.ModuleSummary, error) {
	rows, err := s.rs.queryDB(ctx, qModules)
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	defer rows.Close()
	var out []bridge.ModuleSummary
	for rows.Next() {
		var m bridge.ModuleSummary
		var seen, sync, interval int64
		if err := rows.Scan(&m.Module, &m.Received, &m.Pending, &m.Synced, &m.Dead, &seen, &sync,
			&m.DeadTotal, &m.Replayed, &interval, &m.Intervals); err != nil {
			return nil, err
		}
		m.Interval = time.Duration(interval) * time.Microsecond
		m.LastSeenAt, m.LastSyncAt = fromMicros(seen), fromMicros(sync)
		out = append(out, m)
	}
	return out, rows.Err()
}

// ListDead pages dead records in acceptance order.
func (s *Store) ListDead(ctx context.Context, q bridge.DeadQuery) ([]bridge.Record, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	var recs []bridge.Record
	var err error
	if q.Module != "" {
		recs, err = queryRecords(ctx, s.r, `SELECT `+recordCols+` FROM records
			WHERE module = ? AND state = 2 AND seq > ? ORDER BY seq LIMIT ?`, q.Module, q.AfterSeq, q.Limit)
	} else {
		recs, err = queryRecords(ctx, s.r, `SELECT `+recordCols+` FROM records
			WHERE state = 2 AND seq > ? ORDER BY seq LIMIT ?`, q.AfterSeq, q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list dead: %w", err)
	}
	return recs, nil
}

// Prune deletes synced records synced before the cutoff, oldest first.
func (s *Store) Prune(ctx context.Context, p bridge.PruneParams) (int, error) {
	if p.Limit <= 0 {
		p.Limit = 10000
	}
	if !p.AttemptsBefore.IsZero() {
		if _, err := s.w.ExecContext(ctx, `DELETE FROM attempts WHERE id IN (
			SELECT id FROM attempts WHERE at < ? ORDER BY at LIMIT ?)`, micros(p.AttemptsBefore), p.Limit); err != nil {
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
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune: commit: %w", err)
	}
	s.keys.drop(gone)
	n := 0
	for _, c := range perModule {
		n += int(c)
	}
	return n, nil
}

// ReplayDead makes the selected dead records pending and due at p.Now.
func (s *Store) ReplayDead(ctx context.Context, p bridge.ReplayParams) (int, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("replay: begin: %w", err)
	}
	defer tx.Rollback()
	now := micros(p.Now)
	moved := map[string]int64{}
	switch {
	case len(p.IDs) > 0:
		for _, id := range p.IDs {
			var m string
			err := tx.QueryRowContext(ctx, `UPDATE records SET state = 0, attempts = 0, next_attempt_at = ?
				WHERE id = ? AND state = 2 RETURNING module`, now, id).Scan(&m)
			if err == sql.ErrNoRows {
				continue
			} else if err != nil {
				return 0, fmt.Errorf("replay %s: %w", id, err)
			}
			moved[m]++
		}
	case p.Module != "" || p.All:
		q := `UPDATE records SET state = 0, attempts = 0, next_attempt_at = ? WHERE state = 2`
		args := []any{now}
		if p.Module != "" {
			q += ` AND module = ?`
			args = append(args, p.Module)
		}
		rows, err := tx.QueryContext(ctx, q+` RETURNING module`, args...)
		if err != nil {
			return 0, fmt.Errorf("replay: %w", err)
		}
		for rows.Next() {
			var m string
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return 0, err
			}
			moved[m]++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
	default:
		return 0, bridge.Errorf(bridge.EINVALID, "replay: give ids, a module, or all")
	}
	total := 0
	for m, n := range moved {
		if _, err := tx.ExecContext(ctx, `UPDATE modules SET dead = dead - ?1, pending = pending + ?1,
			replayed = replayed + ?1 WHERE module = ?2`, n, m); err != nil {
			return 0, fmt.Errorf("replay: count: %w", err)
		}
		if err := s.addRollup(ctx, tx, &bridge.Rollup{Minute: bridge.Minute(p.Now), Module: m, Replayed: n}); err != nil {
			return 0, fmt.Errorf("replay: %w", err)
		}
		total += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("replay: commit: %w", err)
	}
	return total, nil
}
