package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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

	// Each free module's head: the index on (module, state, seq) makes each
	// a single seek, so this costs one row per module at any table size.
	rows, err := s.ws.query(ctx, tx, qFreeHeads, now)
	if err != nil {
		return nil, fmt.Errorf("lease: modules: %w", err)
	}
	best, bestSeq := "", int64(-1)
	for rows.Next() {
		var m string
		var seq, due sql.NullInt64
		if err := rows.Scan(&m, &seq, &due); err != nil {
			rows.Close()
			return nil, err
		}
		if !seq.Valid || due.Int64 > now || slices.Contains(p.Skip, m) {
			continue
		}
		if bestSeq < 0 || seq.Int64 < bestSeq {
			best, bestSeq = m, seq.Int64
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if best == "" {
		return nil, nil
	}

	rows, err = s.ws.query(ctx, tx, qLeaseBatch, best, p.MaxRecords)
	if err != nil {
		return nil, fmt.Errorf("lease: batch of %s: %w", best, err)
	}
	recs, err := scanRecords(rows)
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
	if _, err := s.ws.exec(ctx, tx, qClaim,
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
// Each kind of outcome is one statement over the ids as a JSON array, so
// settling 500 records costs a few statements, not 500.
func (s *Store) Settle(ctx context.Context, st bridge.Settlement) error {
	now := micros(st.Now)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("settle: begin: %w", err)
	}
	defer tx.Rollback()

	exec := func(q string, args ...any) (int64, error) {
		res, err := s.ws.exec(ctx, tx, q, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	var synced, dead int64
	if len(st.Synced) > 0 {
		n, err := exec(qSettleSynced, now, idsJSON(st.Synced), st.Module)
		if err != nil {
			return fmt.Errorf("settle: synced: %w", err)
		}
		synced = n
	}
	byReason := map[string][]string{}
	var reasons []string
	for _, d := range st.Dead {
		if _, ok := byReason[d.Reason]; !ok {
			reasons = append(reasons, d.Reason)
		}
		byReason[d.Reason] = append(byReason[d.Reason], d.ID)
	}
	for _, reason := range reasons {
		n, err := exec(qSettleDead, reason, idsJSON(byReason[reason]), st.Module)
		if err != nil {
			return fmt.Errorf("settle: dead: %w", err)
		}
		dead += n
	}
	if len(st.Retry) > 0 {
		if _, err := exec(qSettleRetry,
			micros(st.RetryAt), st.Error, idsJSON(st.Retry), st.Module); err != nil {
			return fmt.Errorf("settle: retry: %w", err)
		}
	}
	lastSync := int64(0)
	if synced > 0 {
		lastSync = now
	}
	if _, err := exec(qSettleCount, synced+dead, synced, dead, lastSync, st.Module); err != nil {
		return fmt.Errorf("settle: count: %w", err)
	}
	if a := st.Attempt; a != nil {
		if _, err := exec(qInsertAttempt,
			micros(a.At), a.Module, a.LeaseID, a.FirstSeq, a.LastSeq, a.Records, a.Outcome,
			a.HTTPStatus, a.Error, a.Latency.Microseconds()); err != nil {
			return fmt.Errorf("settle: record attempt: %w", err)
		}
	}
	if _, err := exec(qRelease, st.Module, st.LeaseID); err != nil {
		return fmt.Errorf("settle: release: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("settle: commit: %w", err)
	}
	return nil
}

// idsJSON encodes ids as a JSON array for json_each.
func idsJSON(ids []string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func queryRecords(ctx context.Context, q querier, query string, args ...any) ([]bridge.Record, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanRecords(rows)
}

// scanRecords reads recordCols rows and closes them.
func scanRecords(rows *sql.Rows) ([]bridge.Record, error) {
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
