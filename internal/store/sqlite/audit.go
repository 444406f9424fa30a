package sqlite

import (
	"context"
	"fmt"

	"corebridge/internal/bridge"
)

// AppendAudit stores one audit entry through the write connection, durably.
func (s *Store) AppendAudit(ctx context.Context, e bridge.AuditEntry) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO audit (at, actor, role, action, target, records, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, micros(e.At), e.Actor, e.Role, e.Action, e.Target, e.Records, e.Detail); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return s.Sync(ctx)
}

// ListAudit pages the audit log newest first.
func (s *Store) ListAudit(ctx context.Context, q bridge.AuditQuery) ([]bridge.AuditEntry, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	before := q.BeforeSeq
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, at, actor, role, action, target, records, detail
		FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?`, before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []bridge.AuditEntry
	for rows.Next() {
		var e bridge.AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Role, &e.Action, &e.Target, &e.Records, &e.Detail); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
