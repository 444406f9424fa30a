package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
	"corebridge/internal/insight"
	"corebridge/internal/reconcile"
)

// AuditReconcileRepair is the audit action of a reconciliation that
// requeued the records the Bucket does not hold.
const AuditReconcileRepair = "reconcile_repair"

// reconcileProgressEvery bounds how often POST /api/reconcile streams a
// progress line (a module's end is always streamed).
const reconcileProgressEvery = 250 * time.Millisecond

// handleReconcile is POST /api/reconcile?module=&since=&repair=: one
// reconciliation with the Bucket, streamed as NDJSON: {"progress":…} lines,
// then one {"report":…} line. repair needs the access that replaying dead
// letters needs; a plain run what reading them needs (the route's).
func handleReconcile(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts, msg := reconcileOptions(r)
		if msg != "" {
			badRequest(w, msg)
			return
		}
		p := auth.FromContext(r.Context())
		if opts.Repair && !p.Allows(auth.AccessOperate) {
			s.insight.Security(insight.SecForbidden)
			writeError(w, r, s.log, bridge.Errorf(bridge.EFORBIDDEN, "token %q (role %s) may not repair: repair=true needs %s", p.Name, p.Role, auth.AccessOperate))
			return
		}
		svc := s.cfg.Reconcile
		if svc == nil {
			noReconciliation(w)
			return
		}
		ticket, err := svc.Acquire()
		if err != nil {
			writeError(w, r, s.log, bridge.Errorf(bridge.ECONFLICT, "%s", err.Error()))
			return
		}
		// A run may take longer than the server's write timeout.
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{})
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		var mu sync.Mutex
		var last time.Time
		enc := json.NewEncoder(w)
		opts.Progress = func(pr reconcile.Progress) {
			mu.Lock()
			defer mu.Unlock()
			if now := time.Now(); pr.Done || now.Sub(last) >= reconcileProgressEvery {
				last = now
				if enc.Encode(map[string]any{"progress": pr}) == nil {
					_ = rc.Flush()
				}
			}
		}
		rep, err := ticket.Run(r.Context(), opts)
		if err != nil && r.Context().Err() == nil {
			s.log.Warn("reconcile: stopped", "err", err)
		}
		if rep.Totals.Requeued > 0 {
			s.ingest.PendingChanged() // requeued records count towards --max-pending
			s.cfg.OnReplay()
		}
		if opts.Repair {
			e := bridge.AuditEntry{Action: AuditReconcileRepair, Target: reconcileTarget(opts), Records: int(rep.Totals.Requeued)}
			if err != nil {
				e.Detail = err.Error()
			}
			s.audit(r.Context(), p, e)
		}
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(map[string]any{"report": rep})
		_ = rc.Flush()
	})
}

// handleLastReconcile is GET /api/reconcile: the last report, and whether
// one is running now.
func handleLastReconcile(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc := s.cfg.Reconcile
		if svc == nil {
			noReconciliation(w)
			return
		}
		// None yet is an answer, not an error: {"report": null}.
		rep, ok := svc.Last()
		if !ok {
			writeJSON(w, http.StatusOK, map[string]any{"report": nil, "running": svc.Running()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"report": rep, "running": svc.Running()})
	})
}

// reconcileOptions reads POST /api/reconcile's query, or says which
// parameter is wrong.
func reconcileOptions(r *http.Request) (reconcile.Options, string) {
	var o reconcile.Options
	q := r.URL.Query()
	for _, v := range q["module"] {
		for m := range strings.SplitSeq(v, ",") {
			if m = strings.TrimSpace(m); m == "" {
				continue
			}
			if !bridge.ValidModule(m) {
				return o, fmt.Sprintf("module: %q is not a module name (pattern %s)", m, bridge.ModulePattern)
			}
			o.Modules = append(o.Modules, m)
		}
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return o, fmt.Sprintf("since: %q is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)", v)
		}
		o.Since = t
	}
	if v := q.Get("repair"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Sprintf("repair: %q is not a boolean (true or false)", v)
		}
		o.Repair = b
	}
	for k := range q {
		switch k {
		case "module", "since", "repair":
		default:
			return o, fmt.Sprintf("%s: unknown parameter (module, since, repair)", k)
		}
	}
	return o, ""
}

func reconcileTarget(o reconcile.Options) string {
	if len(o.Modules) == 0 {
		return "all"
	}
	return "modules: " + strings.Join(o.Modules, ", ")
}

// noReconciliation answers 501: this store cannot be reconciled.
func noReconciliation(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotImplemented, errorBody{Detail: "reconciliation is not available: this store cannot be reconciled",
		Error: errorInfo{Code: "not_implemented", Message: "reconciliation is not available"}})
}

// badRequest answers 400 with msg, which names the parameter.
func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, errorBody{Detail: msg, Error: errorInfo{Code: "bad_request", Message: msg}})
}
