package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
)

// audit records an operator action done by p (nil: unknown) in the
// store's audit log. The action has already happened: a failure to record
// it is logged as an error and does not undo it (nor fail the request),
// since an operator who replayed records must not be told it failed.
func (s *Server) audit(ctx context.Context, p *auth.Principal, e bridge.AuditEntry) {
	e.At = bridge.Truncate(s.cfg.Now())
	if p != nil {
		e.Actor, e.Role = p.Name, string(p.Role)
	}
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("audit entry not recorded", "action", e.Action, "actor", e.Actor, "target", e.Target,
			"records", e.Records, "err", err)
	}
}

// selectorTarget names what a replay or purge selected, for the audit log.
func selectorTarget(p bridge.ReplayParams) string {
	switch {
	case len(p.IDs) > 0:
		return "ids: " + strings.Join(p.IDs, ", ")
	case p.Module != "":
		return "module: " + p.Module
	}
	return "all"
}

// handleAudit is GET /api/audit?before=&limit=: operator actions, newest
// first; before is the seq of the previous page's last entry.
func handleAudit(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var fes []bridge.FieldError
		before, limit := int64(0), 100
		if v := q.Get("before"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				fes = append(fes, bridge.FieldError{Loc: []any{"query", "before"}, Msg: "Input should be a positive integer (the seq of the last entry of the previous page)", Type: "int_parsing"})
			}
			before = n
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 500 {
				fes = append(fes, bridge.FieldError{Loc: []any{"query", "limit"}, Msg: "Input should be an integer from 1 to 500", Type: "int_parsing"})
			}
			limit = n
		}
		if len(fes) > 0 {
			writeError(w, r, s.log, &bridge.Error{Code: bridge.EINVALID, Message: "invalid query", Fields: fes})
			return
		}
		es, err := s.store.ListAudit(r.Context(), bridge.AuditQuery{BeforeSeq: before, Limit: limit})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := struct {
			Entries    []bridge.AuditEntry `json:"entries"`
			NextBefore int64               `json:"next_before"`
		}{Entries: es}
		if out.Entries == nil {
			out.Entries = []bridge.AuditEntry{}
		}
		if len(es) > 0 {
			out.NextBefore = es[len(es)-1].Seq
		}
		writeJSON(w, http.StatusOK, out)
	})
}
