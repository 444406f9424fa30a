package server

import (
	"net/http"
	"net/url"
	"strconv"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// handleReconcile answers GET /v1/reconcile (docs/protocol.md,
// "Reconciliation").
func handleReconcile(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := parseReconcileQuery(r.URL.Query())
		if err != nil {
			writeError(w, r, s, err)
			return
		}
		ans, err := s.store.Reconcile(r.Context(), p)
		if err != nil {
			writeError(w, r, s, err)
			return
		}
		writeJSON(w, http.StatusOK, ans)
	})
}

// handleChain answers GET /v1/reconcile/chain.
func handleChain(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		module := q.Get("module")
		if module == "" {
			writeError(w, r, s, bridge.Errorf(bridge.EINVALID, "module is required"))
			return
		}
		limit, err := intParam(q, "limit", DefaultChainLimit, 1, MaxChainLimit)
		if err != nil {
			writeError(w, r, s, err)
			return
		}
		rep, err := s.store.Chain(r.Context(), module, limit)
		if err != nil {
			writeError(w, r, s, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
}

// parseReconcileQuery reads GET /v1/reconcile's parameters; an error
// (EINVALID) names the one that is wrong.
func parseReconcileQuery(q url.Values) (ReconcileParams, error) {
	p := ReconcileParams{Module: q.Get("module"), From: q.Get("from"), To: q.Get("to")}
	if p.Module == "" {
		return p, bridge.Errorf(bridge.EINVALID, "module is required")
	}
	if p.To != "" && p.From > p.To {
		return p, bridge.Errorf(bridge.EINVALID, "to must not be before from (%s < %s)", quoteShort(p.To), quoteShort(p.From))
	}
	var err error
	if p.Parts, err = intParam(q, "parts", bucket.ReconcileDefaultParts, 2, bucket.ReconcileMaxParts); err != nil {
		return p, err
	}
	if p.List, err = intParam(q, "list", bucket.ReconcileDefaultList, 0, bucket.ReconcileMaxList); err != nil {
		return p, err
	}
	return p, nil
}

// intParam reads the integer parameter name, def when absent; a value
// that is not an integer from lo to hi is an EINVALID error naming it.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < lo || n > hi {
		return 0, bridge.Errorf(bridge.EINVALID, "%s must be an integer from %d to %d, not %s", name, lo, hi, quoteShort(v[0]))
	}
	return n, nil
}
