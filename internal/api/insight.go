package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
)

// handleSummary is GET /api/summary: the health figures the dashboard's
// header and KPI cards show (the same body as /core/health).
func handleSummary(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.insight.Health(r.Context()))
	})
}

// moduleView is one row of the dashboard's modules table.
type moduleView struct {
	Module        string   `json:"module"`
	Received      int64    `json:"received"`
	Synced        int64    `json:"synced"`
	Pending       int64    `json:"pending"`
	Dead          int64    `json:"dead"`
	DeadTotal     int64    `json:"dead_total"`
	Replayed      int64    `json:"replayed_total"`
	LastSeenAt    string   `json:"last_seen_at,omitempty"`
	LastSyncAt    string   `json:"last_sync_at,omitempty"`
	Silent        bool     `json:"silent"`
	SilentReason  string   `json:"silent_reason,omitempty"`
	UsualInterval *float64 `json:"usual_interval_s"` // nil until the module has sent a few times
	Received24h   int64    `json:"received_24h"`
	Synced24h     int64    `json:"synced_24h"`
	Failed24h     int64    `json:"failed_24h"`
	Dead24h       int64    `json:"dead_24h"`
	// The module's last heartbeat (POST /core/heartbeat) since the bridge
	// started: when, the status it gave, its message and metrics, and how
	// many it sent; absent when none.
	LastHeartbeatAt  string          `json:"last_heartbeat_at,omitempty"`
	HeartbeatStatus  string          `json:"heartbeat_status,omitempty"`
	HeartbeatMessage string          `json:"heartbeat_message,omitempty"`
	HeartbeatMetrics json.RawMessage `json:"heartbeat_metrics,omitempty"`
	Heartbeats       int64           `json:"heartbeats"`
	// Registered, with a registry (Config.Registry), says whether the
	// module is in it; absent without one.
	Registered *bool `json:"registered,omitempty"`
}

// handleModules is GET /api/modules: every module's counts, silence,
// last heartbeat and 24 h figures, sorted by name. Modules that only
// heartbeat, and with a registry the registered modules that have not
// sent yet, are listed too, with no counts.
func handleModules(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mods, err := s.store.Modules(r.Context())
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		f, err := s.insight.Figures(r.Context())
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		now := s.cfg.Now()
		sc := s.insight.Silence()
		seen := make(map[string]bool, len(mods))
		for _, m := range mods {
			seen[m.Module] = true
		}
		extra := func(name string) {
			if !seen[name] {
				seen[name] = true
				mods = append(mods, bridge.ModuleSummary{Module: name})
			}
		}
		for _, hb := range s.insight.Heartbeats() {
			extra(hb.Module)
		}
		for _, name := range s.cfg.Registry.Names() {
			extra(name)
		}
		slices.SortFunc(mods, func(a, b bridge.ModuleSummary) int { return strings.Compare(a.Module, b.Module) })
		out := make([]moduleView, 0, len(mods))
		for _, m := range mods {
			v := moduleView{Module: m.Module, Received: m.Received, Synced: m.Synced, Pending: m.Pending, Dead: m.Dead,
				DeadTotal: m.DeadTotal, Replayed: m.Replayed,
				LastSeenAt: bridge.FormatTime(m.LastSeenAt), LastSyncAt: bridge.FormatTime(m.LastSyncAt)}
			hb, beat := s.insight.LastHeartbeat(m.Module)
			v.Silent, v.SilentReason = sc.SilentAt(m, hb.At, now)
			if beat {
				v.LastHeartbeatAt, v.HeartbeatStatus, v.HeartbeatMessage = bridge.FormatTime(hb.At), hb.Status, hb.Message
				v.HeartbeatMetrics, v.Heartbeats = hb.Metrics, hb.Count
			}
			if reg := s.cfg.Registry; reg != nil {
				known := reg.Known(m.Module)
				v.Registered = &known
			}
			if m.Intervals >= sc.Learn {
				iv := m.Interval.Seconds()
				v.UsualInterval = &iv
			}
			d := f.PerModule[m.Module]
			v.Received24h, v.Synced24h, v.Failed24h, v.Dead24h = d.Received, d.Synced, d.Failed, d.Dead
			out = append(out, v)
		}
		writeJSON(w, http.StatusOK, map[string]any{"modules": out})
	})
}

// handleSeries is GET /api/series?window=1h|24h: the dashboard's charts.
func handleSeries(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("window")
		if name == "" {
			name = "1h"
		}
		if _, ok := insight.Windows[name]; !ok {
			writeError(w, r, s.log, &bridge.Error{Code: bridge.EINVALID, Message: "invalid query", Fields: []bridge.FieldError{{
				Loc: []any{"query", "window"}, Msg: "Input should be '1h' or '24h'", Type: "literal_error"}}})
			return
		}
		series, err := s.insight.Series(r.Context(), name)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, series)
	})
}

// handleAutomationRuns is GET /api/automation/runs: the automation
// runner's recent runs, or attached: false when serve runs none.
func handleAutomationRuns(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Automation == nil {
			writeJSON(w, http.StatusOK, map[string]any{"attached": false, "runs": []any{}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"attached": true, "runs": s.cfg.Automation()})
	})
}

// handleMetrics is GET /metrics, in Prometheus' text format.
func handleMetrics(s *Server) http.Handler { return s.insight.MetricsHandler() }
