package storetest

import (
	"context"

	"corebridge/internal/bridge"
)

func (s *Mem) AppendAudit(_ context.Context, e bridge.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Seq = int64(len(s.audit)) + 1
	s.audit = append(s.audit, e)
	return nil
}

func (s *Mem) ListAudit(_ context.Context, q bridge.AuditQuery) ([]bridge.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.Limit <= 0 {
		q.Limit = 100
	}
	var out []bridge.AuditEntry
	for i := len(s.audit) - 1; i >= 0 && len(out) < q.Limit; i-- {
		if e := s.audit[i]; q.BeforeSeq <= 0 || e.Seq < q.BeforeSeq {
			out = append(out, e)
		}
	}
	return out, nil
}
