package api

import "net/http"

// routes lists every route of the API.
func (s *Server) routes() {
	s.mux.Handle("POST /core/update", handleUpdate(s))
	s.mux.Handle("POST /core/updates", handleUpdates(s))
	s.mux.Handle("GET /bucket/status", handleBucketStatus(s))
	s.mux.Handle("GET /core/health", handleHealth(s))
	s.mux.Handle("GET /healthz", handleHealthz())
	s.mux.Handle("GET /readyz", handleReadyz(s))
	s.mux.Handle("GET /api/dead-letters", handleListDead(s))
	s.mux.Handle("POST /api/dead-letters/replay", handleReplayDead(s))
	s.mux.Handle("POST /api/dead-letters/purge", handlePurgeDead(s))
	s.mux.Handle("GET /api/records/{id}", handleGetRecord(s))
	s.mux.Handle("GET /openapi.json", handleOpenAPI(s.cfg.OpenAPIJSON))
	s.mux.Handle("GET /{$}", handleIndex(s))
}

func handleOpenAPI(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(doc) == 0 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	})
}

// handleIndex answers / with where to go next, until the dashboard lives there.
func handleIndex(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"name":    "corebridge",
			"version": s.cfg.Version,
			"routes": []string{"POST /core/update", "POST /core/updates", "GET /bucket/status",
				"GET /core/health", "GET /healthz", "GET /readyz", "GET /openapi.json"},
		})
	})
}
