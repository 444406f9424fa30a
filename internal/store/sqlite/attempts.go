package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"corebridge/internal/bridge"
)

// Attempts returns the attempts whose batch held the record: those of its
// module whose seq range covers the record's seq.
func (s *Store) Attempts(ctx context.Context, recordID string) ([]bridge.Attempt, error) {
	var module string
	var seq int64
	err := s.r.QueryRowContext(ctx, `SELECT module, seq FROM records WHERE id = ?`, recordID).Scan(&module, &seq)
	if err == sql.ErrNoRows {
		return nil, bridge.Errorf(bridge.ENOTFOUND, "record %q not found", recordID)
	} else if err != nil {
		return nil, fmt.Errorf("attempts: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT at, module, lease_id, first_seq, last_seq, records, outcome,
		http_status, error, latency_us FROM attempts
		WHERE module = ? AND last_seq >= ? AND first_seq <= ? ORDER BY id`, module, seq, seq)
	if err != nil {
		return nil, fmt.Errorf("attempts: %w", err)
	}
	defer rows.Close()
	var out []bridge.Attempt
	for rows.Next() {
		var a bridge.Attempt
		var at, lat int64
		if err := rows.Scan(&at, &a.Module, &a.LeaseID, &a.FirstSeq, &a.LastSeq, &a.Records, &a.Outcome,
			&a.HTTPStatus, &a.Error, &lat); err != nil {
			return nil, err
		}
		a.At, a.Latency = fromMicros(at), time.Duration(lat)*time.Microsecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// AttemptCounts counts attempts since t by outcome.
func (s *Store) AttemptCounts(ctx context.Context, since time.Time) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT outcome, count(*) FROM attempts WHERE at >= ? GROUP BY outcome`, micros(since))
	if err != nil {
		return nil, fmt.Errorf("attempt counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var o string
		var n int64
		if err := rows.Scan(&o, &n); err != nil {
			return nil, err
		}
		out[o] = n
	}
	return out, rows.Err()
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
