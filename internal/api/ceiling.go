package api

import (
	"log/slog"
	"net/http"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
)

// NewCeiling returns the benchmark-only ceiling server: it reads, decodes
// and validates POST /core/update exactly as the real one does and answers
// the same JSON, but stores nothing. Load against it measures what HTTP and
// JSON alone cost on this machine, the bound durable ingest is compared to.
func NewCeiling(maxBody int64) http.Handler {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	mux := http.NewServeMux()
	mux.Handle("POST /core/update", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := decodeUpdateRequest(w, r, maxBody)
		if err != nil {
			writeError(w, r, slog.Default(), err)
			return
		}
		rec := ingest.DefaultDedupe.Identify(u, "", bridge.Truncate(time.Now()))
		writeJSON(w, http.StatusOK, newUpdateResponse(u.Module, bridge.Appended{
			ID: rec.ID, SessionID: rec.SessionID, ReceivedAt: rec.ReceivedAt}))
	}))
	mux.Handle("GET /healthz", handleHealthz())
	return mux
}
