package api

import (
	"maps"
	"net/http"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
)

// routes lists every route of the API with the access it needs; the
// index at / lists them too.
func (s *Server) routes() {
	readyz, metrics := auth.AccessView, auth.AccessView
	if s.cfg.OpenReadyz {
		readyz = auth.AccessOpen
	}
	if s.cfg.OpenMetrics {
		metrics = auth.AccessOpen
	}
	s.handle("POST /core/update", auth.AccessProduce, limitIngest(s, handleUpdate(s)))
	s.handle("POST /core/updates", auth.AccessProduce, limitIngest(s, handleUpdates(s)))
	s.handle("POST /core/heartbeat", auth.AccessProduce, handleHeartbeat(s))
	s.handle("GET /bucket/status", auth.AccessView, handleBucketStatus(s))
	s.handle("GET /core/health", auth.AccessView, handleHealth(s))
	s.handle("GET /healthz", auth.AccessOpen, handleHealthz())
	s.handle("GET /readyz", readyz, handleReadyz(s))
	s.handle("GET /api/dead-letters", auth.AccessView, handleListDead(s))
	s.handle("POST /api/dead-letters/replay", auth.AccessOperate, handleReplayDead(s))
	s.handle("POST /api/dead-letters/purge", auth.AccessOperate, handlePurgeDead(s))
	s.handle("PUT /api/dead-letters/{id}/data", auth.AccessOperate, handleEditDead(s))
	s.handle("POST /api/reconcile", auth.AccessView, handleReconcile(s)) // repair=true needs AccessOperate
	s.handle("GET /api/reconcile", auth.AccessView, handleLastReconcile(s))
	s.handle("POST /api/drill", auth.AccessOperate, handlePutDrill(s))
	s.handle("GET /api/drill", auth.AccessView, handleGetDrill(s))
	s.handle("GET /api/records/{id}", auth.AccessView, handleGetRecord(s))
	s.handle("GET /api/summary", auth.AccessView, handleSummary(s))
	s.handle("GET /api/modules", auth.AccessView, handleModules(s))
	s.handle("GET /api/series", auth.AccessView, handleSeries(s))
	s.handle("GET /api/automation/runs", auth.AccessView, handleAutomationRuns(s))
	s.handle("GET /api/audit", auth.AccessView, handleAudit(s))
	s.handle("GET /metrics", metrics, handleMetrics(s))
	s.handle("GET /openapi.json", auth.AccessOpen, handleOpenAPI(s.cfg.OpenAPIJSON))
	// The API reference, rendered from /openapi.json: open like it.
	s.handle("GET /docs", auth.AccessOpen, handleDocs())
	s.handle("GET /docs/assets/{name}", auth.AccessOpen, handleDocsAsset())
	s.handle("GET /redoc", auth.AccessOpen, handleRedoc())
	// The session routes authenticate for themselves.
	s.handle("POST /api/session", auth.AccessOpen, handleLogin(s))
	s.handle("GET /api/session", auth.AccessOpen, handleWhoAmI(s))
	s.handle("DELETE /api/session", auth.AccessOpen, handleLogout(s))
	if d := s.cfg.Dashboard; d != nil {
		// The page and its assets hold no data; what it shows comes from
		// the routes above, which need a viewer.
		s.handle("GET /{$}", auth.AccessOpen, d.Page)
		s.handle("GET /assets/{name}", auth.AccessOpen, d.Assets)
		s.handle("GET /api/events", auth.AccessView, d.Events)
		s.handle("GET /api", auth.AccessView, handleIndex(s))
	} else {
		s.handle("GET /{$}", auth.AccessView, handleIndex(s))
	}
}

func (s *Server) handle(pattern string, access auth.Access, h http.Handler) {
	s.mux.Handle(pattern, s.guard(access, h))
	s.patterns = append(s.patterns, pattern)
	s.access[pattern] = access
}

// Access returns the access each route needs, by pattern.
func (s *Server) Access() map[string]auth.Access { return maps.Clone(s.access) }

func handleOpenAPI(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(doc) == 0 {
			writeError(w, r, nil, bridge.Errorf(bridge.ENOTFOUND, "this server has no OpenAPI document"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	})
}

// handleIndex answers / with where to go next, until the dashboard lives there.
func handleIndex(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"name": "corebridge", "version": s.cfg.Version, "routes": s.patterns})
	})
}
