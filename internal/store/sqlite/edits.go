package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"corebridge/internal/bridge"
)

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
	if _, err := tx.ExecContext(ctx, `INSERT INTO edits (record, at, old_data, new_data, note) VALUES (?, ?, ?, ?, ?)`,
		p.ID, micros(p.Now), old, []byte(p.Data), p.Note); err != nil {
		return fmt.Errorf("edit %s: history: %w", p.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("edit: commit: %w", err)
	}
	return nil
}

// Edits returns a record's data edits, oldest first.
func (s *Store) Edits(ctx context.Context, recordID string) ([]bridge.Edit, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT at, old_data, new_data, note FROM edits WHERE record = ? ORDER BY id`, recordID)
	if err != nil {
		return nil, fmt.Errorf("edits: %w", err)
	}
	defer rows.Close()
	var out []bridge.Edit
	for rows.Next() {
		var e bridge.Edit
		var at int64
		var old, nw []byte
		if err := rows.Scan(&at, &old, &nw, &e.Note); err != nil {
			return nil, fmt.Errorf("edits: %w", err)
		}
		e.At, e.OldData, e.NewData = fromMicros(at), old, nw
		out = append(out, e)
	}
	return out, rows.Err()
}
