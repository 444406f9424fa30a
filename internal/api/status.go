package api

import (
	"net/http"

	"corebridge/internal/bridge"
)

// bucketStatus is the prototype's /bucket/status plus counts of what is
// not synced yet.
type bucketStatus struct {
	LastSyncTime     string           `json:"last_sync_time"`
	TotalSyncCount   int64            `json:"total_sync_count"`
	ModuleSyncCounts map[string]int64 `json:"module_sync_counts"`
	ReceivedCount    int64            `json:"received_count"`
	PendingCount     int64            `json:"pending_count"`
	DeadCount        int64            `json:"dead_count"`
	SilentModules    []string         `json:"silent_modules"`
}

func handleBucketStatus(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := s.store.Stats(r.Context())
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		mods, err := s.store.Modules(r.Context())
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out := bucketStatus{
			LastSyncTime: bridge.FormatTime(st.LastSyncAt), TotalSyncCount: st.Synced,
			ModuleSyncCounts: make(map[string]int64, len(mods)),
			ReceivedCount:    st.Received, PendingCount: st.Pending, DeadCount: st.Dead, SilentModules: []string{},
		}
		now := s.cfg.Now()
		for _, m := range mods {
			out.ModuleSyncCounts[m.Module] = m.Synced
			if silent, _ := s.insight.ModuleSilent(m, now); silent {
				out.SilentModules = append(out.SilentModules, m.Module)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func handleHealth(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.insight.Health(r.Context()))
	})
}

// handleHealthz says the process is alive and serving.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
}

// handleReadyz says the store takes writes: a real write, not a guess.
func handleReadyz(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.insight.Ready(r.Context()); err != nil {
			s.log.Debug("readyz: not ready", "err", err) // the way down and back are logged where they happen
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Detail: err.Error(),
				Error: errorInfo{Code: bridge.EUNAVAILABLE, Message: err.Error()}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
