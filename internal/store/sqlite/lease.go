package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"corebridge/internal/bridge"

	"github.com/google/uuid"
)

const recordCols = `seq, id, module, session_id, data, received_at, state, attempts,
	next_attempt_at, last_error, coalesce(synced_at, 0)`

// Lease claims the due head of one module; see bridge.Store. Among modules
// with a due head and no live lease, the one with the oldest head goes first.
func (s *Store) Lease(ctx context.Context, p bridge.LeaseParams) (*bridge.Lease, error) {
	if p.MaxRecords <= 0 {
		return nil, bridge.Errorf(bridge.EINVALID, "lease: MaxRecords must be positive")
	}
	now := micros(p.Now)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("lease: begin: %w", err)
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `SELECT module FROM modules WHERE pending > 0 AND lease_until <= ?`, now)
	if err != nil {
		return nil, fmt.Errorf("lease: modules: %w", err)
	}
	var mods []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return nil, err
		}
		if !slices.Contains(p.Skip, m) {
			mods = append(mods, m)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	best, bestSeq := "", int64(-1)
	for _, m := range mods {
		var seq, due int64
		err := tx.QueryRowContext(ctx, `SELECT seq, next_attempt_at FROM records
			WHERE module = ? AND state = 0 ORDER BY seq LIMIT 1`, m).Scan(&seq, &due)
		if err == sql.ErrNoRows {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("lease: head of %s: %w", m, err)
		}
		if due <= now && (bestSeq < 0 || seq < bestSeq) {
			best, bestSeq = m, seq
		}
	}
	if best == "" {
		return nil, nil
	}

	recs, err := queryRecords(ctx, tx, `SELECT `+recordCols+` FROM records
		WHERE module = ? AND state = 0 ORDER BY seq LIMIT ?`, best, p.MaxRecords)
	if err != nil {
		return nil, fmt.Errorf("lease: batch of %s: %w", best, err)
	}
	size := 0
	for i, r := range recs {
		size += len(r.Data)
		if i > 0 && (micros(r.NextAttemptAt) > now || p.MaxBytes > 0 && size > p.MaxBytes) {
			recs = recs[:i]
			break
		}
	}
	l := &bridge.Lease{ID: uuid.NewString(), Module: best, Records: recs, Expires: p.Now.Add(p.TTL)}
	if _, err := tx.ExecContext(ctx, `UPDATE modules SET lease_id = ?, lease_owner = ?, lease_until = ? WHERE module = ?`,
		l.ID, p.Owner, micros(l.Expires), best); err != nil {
		return nil, fmt.Errorf("lease: claim %s: %w", best, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("lease: commit: %w", err)
	}
	return l, nil
}

// Settle applies a delivery outcome and releases the lease; see bridge.Store.
// Transitions apply only to records still pending, so settling twice (or
// after the lease was lost and the batch redelivered) changes nothing more.
func (s *Store) Settle(ctx context.Context, st bridge.Settlement) error {
	now := micros(st.Now)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("settle: begin: %w", err)
	}
	defer tx.Rollback()

	exec := func(q string, args ...any) (int64, error) {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	var synced, dead int64
	for _, id := range st.Synced {
		n, err := exec(`UPDATE records SET state = 1, synced_at = ?, attempts = attempts + 1
			WHERE id = ? AND module = ? AND state = 0`, now, id, st.Module)
		if err != nil {
			return fmt.Errorf("settle: synced: %w", err)
		}
		synced += n
	}
	for _, d := range st.Dead {
		n, err := exec(`UPDATE records SET state = 2, last_error = ?, attempts = attempts + 1
			WHERE id = ? AND module = ? AND state = 0`, d.Reason, d.ID, st.Module)
		if err != nil {
			return fmt.Errorf("settle: dead: %w", err)
		}
		dead += n
	}
	for _, id := range st.Retry {
		if _, err := exec(`UPDATE records SET next_attempt_at = ?, last_error = ?, attempts = attempts + 1
			WHERE id = ? AND module = ? AND state = 0`, micros(st.RetryAt), st.Error, id, st.Module); err != nil {
			return fmt.Errorf("settle: retry: %w", err)
		}
	}
	lastSync := int64(0)
	if synced > 0 {
		lastSync = now
	}
	if _, err := exec(`UPDATE modules SET pending = pending - ?, synced = synced + ?, dead = dead + ?,
		last_sync_at = max(last_sync_at, ?) WHERE module = ?`, synced+dead, synced, dead, lastSync, st.Module); err != nil {
		return fmt.Errorf("settle: count: %w", err)
	}
	if a := st.Attempt; a != nil {
		if _, err := exec(`INSERT INTO attempts (at, module, lease_id, first_seq, last_seq, records, outcome,
			http_status, error, latency_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			micros(a.At), a.Module, a.LeaseID, a.FirstSeq, a.LastSeq, a.Records, a.Outcome,
			a.HTTPStatus, a.Error, a.Latency.Microseconds()); err != nil {
			return fmt.Errorf("settle: record attempt: %w", err)
		}
	}
	if _, err := exec(`UPDATE modules SET lease_id = '', lease_owner = '', lease_until = 0
		WHERE module = ? AND lease_id = ?`, st.Module, st.LeaseID); err != nil {
		return fmt.Errorf("settle: release: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("settle: commit: %w", err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func queryRecords(ctx context.Context, q querier, query string, args ...any) ([]bridge.Record, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bridge.Record
	for rows.Next() {
		var r bridge.Record
		var data []byte
		var recv, next, synced int64
		var state int
		if err := rows.Scan(&r.Seq, &r.ID, &r.Module, &r.SessionID, &data, &recv, &state,
			&r.Attempts, &next, &r.LastError, &synced); err != nil {
			return nil, err
		}
		r.Data = data
		r.State = bridge.State(state)
		r.ReceivedAt, r.NextAttemptAt, r.SyncedAt = fromMicros(recv), fromMicros(next), fromMicros(synced)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReleaseLeases frees the leases owner holds.
func (s *Store) ReleaseLeases(ctx context.Context, owner string) (int, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE modules SET lease_id = '', lease_owner = '', lease_until = 0
		WHERE lease_owner = ? AND lease_id != ''`, owner)
	if err != nil {
		return 0, fmt.Errorf("release leases: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
