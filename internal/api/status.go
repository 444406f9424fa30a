package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

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
			ReceivedCount:    st.Received, PendingCount: st.Pending, DeadCount: st.Dead,
		}
		for _, m := range mods {
			out.ModuleSyncCounts[m.Module] = m.Synced
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// health is the prototype's /core/health plus what an operator needs to
// tell why it says what it says.
type health struct {
	Status          string  `json:"status"`
	UptimeS         float64 `json:"uptime_s"`
	LastSyncTS      string  `json:"last_sync_ts"`
	PendingQueue    int64   `json:"pending_queue"`
	ErrorCount24h   int64   `json:"error_count_24h"`
	AvgLatencyMs24h float64 `json:"avg_latency_ms_24h"`

	Version           string   `json:"version"`
	Store             string   `json:"store"`
	ReceivedTotal     int64    `json:"received_total"`
	SyncedTotal       int64    `json:"synced_total"`
	DeadCount         int64    `json:"dead_count"`
	Synced24h         int64    `json:"synced_24h"`
	OldestPendingAgeS float64  `json:"oldest_pending_age_s"`
	Reasons           []string `json:"reasons,omitempty"`

	BucketURL         string `json:"bucket_url"`
	BucketReachable   bool   `json:"bucket_reachable"`
	Breaker           string `json:"breaker"`
	LastDeliveryErr   string `json:"last_delivery_error,omitempty"`
	FailedAttempts24h int64  `json:"failed_attempts_24h"`
	IngestErrors24h   int64  `json:"ingest_errors_24h"`
}

func handleHealth(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.cfg.Now()
		h := health{Status: "ok", UptimeS: now.Sub(s.cfg.Started).Seconds(), Version: s.cfg.Version, Store: s.cfg.StoreKind}
		h.IngestErrors24h = s.ingestErrors.sum(now)
		st, err := s.store.Stats(r.Context())
		if err != nil {
			s.log.Error("health: read stats", "err", err)
			h.Status, h.Reasons = "down", append(h.Reasons, "store cannot be read")
			writeJSON(w, http.StatusOK, h)
			return
		}
		h.LastSyncTS = bridge.FormatTime(st.LastSyncAt)
		h.PendingQueue, h.ReceivedTotal, h.SyncedTotal, h.DeadCount = st.Pending, st.Received, st.Synced, st.Dead
		if !st.OldestPendingAt.IsZero() {
			h.OldestPendingAgeS = max(0, now.Sub(st.OldestPendingAt).Seconds())
		}
		n, mean, err := s.store.LatencySince(r.Context(), now.Add(-24*time.Hour))
		if err == nil {
			h.Synced24h, h.AvgLatencyMs24h = n, float64(mean)/float64(time.Millisecond)
		}
		counts, err := s.store.AttemptCounts(r.Context(), now.Add(-24*time.Hour))
		if err == nil {
			h.FailedAttempts24h = counts[bridge.AttemptFailed] + counts[bridge.AttemptRejected]
		}
		h.ErrorCount24h = h.FailedAttempts24h + h.IngestErrors24h
		if s.cfg.Delivery != nil {
			d := s.cfg.Delivery()
			h.BucketURL, h.BucketReachable, h.Breaker, h.LastDeliveryErr = d.BucketURL, d.Reachable, d.Breaker, d.LastError
			if d.Breaker == "open" {
				h.Status = "degraded"
				h.Reasons = append(h.Reasons, fmt.Sprintf("bucket unreachable since %s (circuit breaker open): %s",
					bridge.FormatTime(d.BreakerOpened), d.LastError))
			}
		}
		if age := time.Duration(h.OldestPendingAgeS * float64(time.Second)); age > s.cfg.StaleAfter {
			h.Status = "degraded"
			h.Reasons = append(h.Reasons, fmt.Sprintf("oldest pending record is %s old (stale after %s)",
				age.Round(time.Second), s.cfg.StaleAfter))
		}
		if err := s.writable(r.Context()); err != nil {
			h.Status, h.Reasons = "down", append(h.Reasons, "store is not writable: "+err.Error())
		}
		writeJSON(w, http.StatusOK, h)
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
	if e := s.commit.storeError(); e != "" {
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
