package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
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
		now, sc := s.cfg.Now(), s.insight.Silence()
		for _, m := range mods {
			out.ModuleSyncCounts[m.Module] = m.Synced
			if silent, _ := sc.Silent(m, now); silent {
				out.SilentModules = append(out.SilentModules, m.Module)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// health is the prototype's /core/health plus what an operator needs to
// tell why it says what it says. Every 24 h figure comes from the rollups
// (insight.Figures documents the definitions).
type health struct {
	Status          string  `json:"status"`
	UptimeS         float64 `json:"uptime_s"`
	LastSyncTS      string  `json:"last_sync_ts"`
	PendingQueue    int64   `json:"pending_queue"`
	ErrorCount24h   int64   `json:"error_count_24h"`
	AvgLatencyMs24h float64 `json:"avg_latency_ms_24h"`

	Version   string   `json:"version"`
	Store     string   `json:"store"`
	Now       string   `json:"now"`
	StartedAt string   `json:"started_at"`
	Reasons   []string `json:"reasons"`

	QueueDepth        int64    `json:"queue_depth"`
	OldestPendingAgeS float64  `json:"oldest_pending_age_s"`
	DrainETAS         *float64 `json:"drain_eta_s"`
	SyncRatePerS      float64  `json:"sync_rate_per_s"`

	SyncSuccessPct24h *float64 `json:"sync_success_pct_24h"`
	P50LatencyMs24h   float64  `json:"p50_latency_ms_24h"`
	P95LatencyMs24h   float64  `json:"p95_latency_ms_24h"`
	P99LatencyMs24h   float64  `json:"p99_latency_ms_24h"`
	Received24h       int64    `json:"received_24h"`
	Duplicates24h     int64    `json:"duplicates_24h"`
	Rejected24h       int64    `json:"rejected_24h"`
	Synced24h         int64    `json:"synced_24h"`
	Failed24h         int64    `json:"failed_24h"`
	Dead24h           int64    `json:"dead_24h"`
	Replayed24h       int64    `json:"replayed_24h"`
	FailedAttempts24h int64    `json:"failed_attempts_24h"`
	IngestErrors24h   int64    `json:"ingest_errors_24h"`

	ReceivedTotal int64    `json:"received_total"`
	SyncedTotal   int64    `json:"synced_total"`
	DeadCount     int64    `json:"dead_count"`
	SilentModules []string `json:"silent_modules"`

	BucketURL       string `json:"bucket_url"`
	BucketReachable bool   `json:"bucket_reachable"`
	Breaker         string `json:"breaker"`
	LastDeliveryErr string `json:"last_delivery_error,omitempty"`
}

// Summary returns the health figures (the body of /core/health and
// /api/summary); the metrics log writes it as its snapshot.
func (s *Server) Summary(ctx context.Context) (any, error) { return s.health(ctx), nil }

func (s *Server) health(ctx context.Context) health {
	now := s.cfg.Now()
	h := health{Status: "ok", UptimeS: now.Sub(s.cfg.Started).Seconds(), Version: s.cfg.Version, Store: s.cfg.StoreKind,
		Now: bridge.FormatTime(now), StartedAt: bridge.FormatTime(s.cfg.Started), Reasons: []string{}, SilentModules: []string{}}
	down := func(reason string) { h.Status, h.Reasons = "down", append(h.Reasons, reason) }
	degraded := func(reason string) {
		if h.Status == "ok" {
			h.Status = "degraded"
		}
		h.Reasons = append(h.Reasons, reason)
	}
	var d bridge.DeliveryStatus
	if s.cfg.Delivery != nil {
		d = s.cfg.Delivery()
		h.BucketURL, h.BucketReachable, h.Breaker, h.LastDeliveryErr = d.BucketURL, d.Reachable, d.Breaker, d.LastError
	}
	st, err := s.store.Stats(ctx)
	if err != nil {
		s.log.Error("health: read stats", "err", err)
		down("store cannot be read")
		return h
	}
	h.LastSyncTS = bridge.FormatTime(st.LastSyncAt)
	h.PendingQueue, h.QueueDepth, h.ReceivedTotal, h.SyncedTotal, h.DeadCount = st.Pending, st.Pending, st.Received, st.Synced, st.Dead
	if !st.OldestPendingAt.IsZero() {
		h.OldestPendingAgeS = max(0, now.Sub(st.OldestPendingAt).Seconds())
	}
	if f, err := s.insight.Figures(ctx); err != nil {
		s.log.Error("health: read rollups", "err", err)
		degraded("24 h figures cannot be read: " + err.Error())
	} else {
		t := f.Totals
		h.SyncSuccessPct24h, h.AvgLatencyMs24h = f.SyncSuccessPct, f.AvgLatencyMs
		h.P50LatencyMs24h, h.P95LatencyMs24h, h.P99LatencyMs24h = f.P50LatencyMs, f.P95LatencyMs, f.P99LatencyMs
		h.Received24h, h.Duplicates24h, h.Rejected24h, h.Synced24h = t.Received, t.Duplicates, t.Rejected, t.Synced
		h.Failed24h, h.Dead24h, h.Replayed24h, h.IngestErrors24h = t.Failed, t.Dead, t.Replayed, t.IngestErrors
		h.FailedAttempts24h, h.ErrorCount24h = t.Failed+t.Dead, f.ErrorCount
		h.SyncRatePerS = f.SyncRate
		h.DrainETAS = insight.DrainETA(st.Pending, f.SyncRate)
	}
	if h.Breaker == "open" {
		degraded(fmt.Sprintf("bucket unreachable since %s (circuit breaker open): %s",
			bridge.FormatTime(d.BreakerOpened), d.LastError))
	}
	if age := time.Duration(h.OldestPendingAgeS * float64(time.Second)); age > s.cfg.StaleAfter {
		degraded(fmt.Sprintf("oldest pending record is %s old (stale after %s)", age.Round(time.Second), s.cfg.StaleAfter))
	}
	if mods, err := s.store.Modules(ctx); err == nil {
		sc := s.insight.Silence()
		for _, m := range mods {
			if silent, why := sc.Silent(m, now); silent {
				h.SilentModules = append(h.SilentModules, m.Module)
				degraded(why)
			}
		}
	}
	if err := s.writable(ctx); err != nil {
		down("store is not writable: " + err.Error())
	}
	return h
}

func handleHealth(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.health(r.Context()))
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
		if err := s.store.Ping(r.Context()); err != nil {
			s.log.Warn("readyz: store not writable", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Detail: "store is not writable",
				Error: errorInfo{Code: bridge.EUNAVAILABLE, Message: "store is not writable"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// pingEvery bounds how often health takes a real write to check the store.
const pingEvery = 5 * time.Second

// writable says whether the store takes writes: the last group commit's
// outcome, and a real write (Store.Ping) at most every pingEvery, so that a
// store that broke while nobody was sending is noticed too, while health
// stays cheap to poll.
func (s *Server) writable(ctx context.Context) error {
	if s.insight.LastCommitFailed() {
		return errors.New("the last commit failed")
	}
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	if now := time.Now(); now.Sub(s.pingAt) >= pingEvery {
		s.pingErr, s.pingAt = s.store.Ping(ctx), now
		if s.pingErr != nil {
			s.log.Error("health: store is not writable", "err", s.pingErr)
		}
	}
	if s.pingErr != nil {
		return errors.New("a test write failed")
	}
	return nil
}
