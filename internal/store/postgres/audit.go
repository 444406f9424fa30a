package postgres

import (
	"context"

	"corebridge/internal/bridge"
)

// AppendAudit stores one audit entry; the database assigns its seq.
func (s *Store) AppendAudit(ctx context.Context, e bridge.AuditEntry) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit (at, actor, role, action, target, records, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, micros(e.At), e.Actor, e.Role, e.Action, e.Target, e.Records, e.Detail)
	return unavailable("append audit", err)
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
	rows, err := s.pool.Query(ctx, `SELECT seq, at, actor, role, action, target, records, detail
		FROM audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2`, before, q.Limit)
	if err != nil {
		return nil, unavailable("list audit", err)
	}
	defer rows.Close()
	var out []bridge.AuditEntry
	for rows.Next() {
		var e bridge.AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Role, &e.Action, &e.Target, &e.Records, &e.Detail); err != nil {
			return nil, unavailable("list audit", err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, unavailable("list audit", rows.Err())
}
