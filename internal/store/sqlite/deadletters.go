package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"corebridge/internal/bridge"
)

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

// PurgeDead deletes dead records for good.
func (s *Store) PurgeDead(ctx context.Context, p bridge.ReplayParams) (int, error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("purge: begin: %w", err)
	}
	defer tx.Rollback()
	gone := map[string]int64{}
	var keys []keyAt
	collect := func(q string, args ...any) error {
		k, err := deleteRecords(ctx, tx, gone, q, args...)
		keys = append(keys, k...)
		return err
	}
	switch {
	case len(p.IDs) > 0:
		for _, id := range p.IDs {
			if err := collect(`DELETE FROM records WHERE id = ? AND state = 2 RETURNING module, seq, dedupe_key`, id); err != nil {
				return 0, fmt.Errorf("purge %s: %w", id, err)
			}
		}
	case p.Module != "":
		err = collect(`DELETE FROM records WHERE module = ? AND state = 2 RETURNING module, seq, dedupe_key`, p.Module)
	case p.All:
		err = collect(`DELETE FROM records WHERE state = 2 RETURNING module, seq, dedupe_key`)
	default:
		return 0, bridge.Errorf(bridge.EINVALID, "purge: give ids, a module, or all")
	}
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	// Their edit history goes with them (edits is small: only dead
	// letters edited by hand).
	if _, err := tx.ExecContext(ctx, `DELETE FROM edits WHERE NOT EXISTS
		(SELECT 1 FROM records r WHERE r.id = edits.record)`); err != nil {
		return 0, fmt.Errorf("purge: edits: %w", err)
	}
	total := 0
	for m, n := range gone {
		if _, err := tx.ExecContext(ctx, `UPDATE modules SET dead = dead - ? WHERE module = ?`, n, m); err != nil {
			return 0, fmt.Errorf("purge: count: %w", err)
		}
		total += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("purge: commit: %w", err)
	}
	s.keys.drop(keys)
	return total, nil
}

// EditDead replaces a dead record's data and keeps the old data in edits.
func (s *Store) EditDead(ctx context.Context, p bridge.EditParams) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("edit: begin: %w", err)
	}
	defer tx.Rollback()
	var old []byte
	err = tx.QueryRowContext(ctx, `SELECT data FROM records WHERE id = ? AND state = 2`, p.ID).Scan(&old)
	if err == sql.ErrNoRows {
		return bridge.Errorf(bridge.ENOTFOUND, "no dead letter has id %q", p.ID)
	} else if err != nil {
		return fmt.Errorf("edit %s: %w", p.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE records SET data = ? WHERE id = ?`, []byte(p.Data), p.ID); err != nil {
		return fmt.Errorf("edit %s: %w", p.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO edits (record, at, old_data, new_data, note, author) VALUES (?, ?, ?, ?, ?, ?)`,
		p.ID, micros(p.Now), old, []byte(p.Data), p.Note, p.Author); err != nil {
		return fmt.Errorf("edit %s: history: %w", p.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("edit: commit: %w", err)
	}
	return nil
}

// Edits returns a record's data edits, oldest first.
func (s *Store) Edits(ctx context.Context, recordID string) ([]bridge.Edit, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT at, old_data, new_data, note, author FROM edits WHERE record = ? ORDER BY id`, recordID)
	if err != nil {
		return nil, fmt.Errorf("edits: %w", err)
	}
	defer rows.Close()
	var out []bridge.Edit
	for rows.Next() {
		var e bridge.Edit
		var at int64
		var old, nw []byte
		if err := rows.Scan(&at, &old, &nw, &e.Note, &e.Author); err != nil {
			return nil, fmt.Errorf("edits: %w", err)
		}
		e.At, e.OldData, e.NewData = fromMicros(at), old, nw
		out = append(out, e)
	}
	return out, rows.Err()
}
