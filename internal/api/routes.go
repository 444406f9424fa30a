package api

import (
	"net/http"

	"corebridge/internal/bridge"
)

// routes lists every route of the API; the index at / lists them too.
func (s *Server) routes() {
	s.handle("POST /core/update", handleUpdate(s))
	s.handle("POST /core/updates", handleUpdates(s))
	s.handle("GET /bucket/status", handleBucketStatus(s))
	s.handle("GET /core/health", handleHealth(s))
	s.handle("GET /healthz", handleHealthz())
	s.handle("GET /readyz", handleReadyz(s))
	s.handle("GET /api/dead-letters", handleListDead(s))
	s.handle("POST /api/dead-letters/replay", handleReplayDead(s))
	s.handle("POST /api/dead-letters/purge", handlePurgeDead(s))
	s.handle("PUT /api/dead-letters/{id}/data", handleEditDead(s))
	s.handle("GET /api/records/{id}", handleGetRecord(s))
	s.handle("GET /api/summary", handleSummary(s))
	s.handle("GET /api/modules", handleModules(s))
	s.handle("GET /api/series", handleSeries(s))
	s.handle("GET /api/automation/runs", handleAutomationRuns(s))
	s.handle("GET /metrics", handleMetrics(s))
	s.handle("GET /openapi.json", handleOpenAPI(s.cfg.OpenAPIJSON))
	if d := s.cfg.Dashboard; d != nil {
		s.handle("GET /{$}", d.Page)
		s.handle("GET /assets/{name}", d.Assets)
		s.handle("GET /api/events", d.Events)
		s.handle("GET /api", handleIndex(s))
	} else {
		s.handle("GET /{$}", handleIndex(s))
	}
}

func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

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
