package insight

import (
	"context"
	"errors"
	"fmt"
	"time"

	"corebridge/internal/bridge"
)

// DefaultStaleAfter is how old the oldest pending record may be before
// health says degraded.
const DefaultStaleAfter = 5 * time.Minute

// Health is the verdict on the bridge and the figures behind it: the body
// of /core/health and /api/summary (the prototype's fields first), the
// dashboard's summary event and the metrics log's snapshot. Status is "ok",
// "degraded" or "down"; Reasons says why when it is not ok. Every 24 h
// figure comes from the rollups (Figures documents the definitions).
type Health struct {
	Status          string  `json:"status"`
	UptimeS         float64 `json:"uptime_s"`
	LastSyncTS      string  `json:"last_sync_ts"`
	PendingQueue    int64   `json:"pending_queue"`
	ErrorCount24h   int64   `json:"error_count_24h"`
	AvgLatencyMs24h float64 `json:"avg_latency_ms_24h"`

	Version string `json:"version"`
	Store   string `json:"store"`
	// Auth is how requests are authenticated: "tokens" (an auth file),
	// "none" (no auth file, loopback only) or "insecure" (no auth file off
	// loopback, --insecure-no-auth).
	Auth      string   `json:"auth,omitempty"`
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
	// BlockedModules are the modules of --strict-order whose pending
	// records wait behind a dead record (each also a reason).
	BlockedModules []string `json:"blocked_modules"`

	// Security is what was refused for security in the last 24 h.
	Security SecurityFigures `json:"security"`

	// Replicas, for a store several serve replicas share, names this
	// replica and the one that leads (runs pruning and automation jobs).
	Replicas *bridge.Replicas `json:"replicas,omitempty"`

	// Reconciliation is the last reconciliation with the Bucket
	// (reconcile.Health), once one ran.
	Reconciliation any `json:"reconciliation,omitempty"`

	BucketURL       string `json:"bucket_url"`
	BucketReachable bool   `json:"bucket_reachable"`
	Breaker         string `json:"breaker"`
	LastDeliveryErr string `json:"last_delivery_error,omitempty"`
}

// Health judges the bridge at the hub's now: down when the store cannot be
// read or written; degraded when the Bucket is unreachable or the breaker
// open, the 24 h success rate is below DegradedSuccessPct, records went
// dead within StaleAfter, the oldest pending record is older than
// StaleAfter, the clock went back behind the store's times (clock.go), a
// module is silent or blocked by a dead record (StrictOrder), ingest
// refuses producers (a full queue, the disk guard) or the 24 h figures cannot be read; else ok.
func (h *Hub) Health(ctx context.Context) Health {
	if h == nil {
		return Health{Status: "down", Reasons: []string{"insight is not running"}, SilentModules: []string{}, BlockedModules: []string{}}
	}
	now := h.cfg.Now()
	v := Health{Status: "ok", UptimeS: now.Sub(h.cfg.Started).Seconds(), Version: h.cfg.Version, Store: h.cfg.StoreKind, Auth: h.cfg.Auth,
		Now: bridge.FormatTime(now), StartedAt: bridge.FormatTime(h.cfg.Started), Reasons: []string{}, SilentModules: []string{},
		BlockedModules: []string{}}
	down := func(reason string) { v.Status, v.Reasons = "down", append(v.Reasons, reason) }
	degraded := func(reason string) {
		if v.Status == "ok" {
			v.Status = "degraded"
		}
		v.Reasons = append(v.Reasons, reason)
	}
	v.Security = h.security.figures(now)
	var d bridge.DeliveryStatus
	if fn := h.delivery(); fn != nil {
		d = fn()
		v.BucketURL, v.BucketReachable, v.Breaker, v.LastDeliveryErr = d.BucketURL, d.Reachable, d.Breaker, d.LastError
	}
	if h.cfg.Replicas != nil {
		r, err := h.cfg.Replicas(ctx)
		if err != nil {
			h.log.Error("health: read the leader", "err", err)
		}
		v.Replicas = &r
		if err == nil && r.Leader == "" {
			degraded("no replica leads: retention pruning and automation jobs wait for one")
		}
	}
	if fn := h.reconciled(); fn != nil {
		view, reason := fn()
		v.Reconciliation = view
		if reason != "" {
			degraded(reason)
		}
	}
	st, err := h.cfg.Store.Stats(ctx)
	if err != nil {
		h.log.Error("health: read stats", "err", err)
		down("store cannot be read")
		return v
	}
	v.LastSyncTS = bridge.FormatTime(st.LastSyncAt)
	v.PendingQueue, v.QueueDepth, v.ReceivedTotal, v.SyncedTotal, v.DeadCount = st.Pending, st.Pending, st.Received, st.Synced, st.Dead
	if !st.OldestPendingAt.IsZero() {
		v.OldestPendingAgeS = max(0, now.Sub(st.OldestPendingAt).Seconds())
	}
	if f, err := h.Figures(ctx); err != nil {
		h.log.Error("health: read rollups", "err", err)
		degraded("24 h figures cannot be read: " + err.Error())
	} else {
		t := f.Totals
		v.SyncSuccessPct24h, v.AvgLatencyMs24h = f.SyncSuccessPct, f.AvgLatencyMs
		v.P50LatencyMs24h, v.P95LatencyMs24h, v.P99LatencyMs24h = f.P50LatencyMs, f.P95LatencyMs, f.P99LatencyMs
		v.Received24h, v.Duplicates24h, v.Rejected24h, v.Synced24h = t.Received, t.Duplicates, t.Rejected, t.Synced
		v.Failed24h, v.Dead24h, v.Replayed24h, v.IngestErrors24h = t.Failed, t.Dead, t.Replayed, t.IngestErrors
		v.FailedAttempts24h, v.ErrorCount24h = t.Failed+t.Dead, f.ErrorCount
		v.SyncRatePerS = f.SyncRate
		if p := f.SyncSuccessPct; p != nil && *p < h.cfg.DegradedSuccessPct && t.Synced+t.Failed+t.Dead >= minSuccessSample {
			degraded(fmt.Sprintf("24 h sync success rate is %.1f%%, below the %g%% threshold", *p, h.cfg.DegradedSuccessPct))
		}
		if d.BucketURL == "" || (d.Reachable && d.Breaker != "open") {
			// While the Bucket is unreachable, the recent rate says
			// nothing about when the queue drains: no estimate.
			v.DrainETAS = DrainETA(st.Pending, f.SyncRate)
		}
	}
	if v.Breaker == "open" {
		what := "bucket unreachable"
		if d.Misconfigured != "" {
			what = d.Misconfigured // it answers, but as a misconfigured bridge's Bucket
		}
		degraded(fmt.Sprintf("%s %s: %s", what, outageSince(d), d.LastError))
	} else if d.BucketURL != "" && !d.Reachable {
		// Failing, but not yet often enough to open the breaker: records
		// are retrying and using up attempts meanwhile.
		since := ""
		if !d.FailingSince.IsZero() {
			since = " since " + bridge.FormatTime(d.FailingSince) + " (first failure)"
		}
		degraded("bucket unreachable" + since + " (retrying, circuit breaker still closed): " + d.LastError)
	}
	mods, modsErr := h.cfg.Store.Modules(ctx)
	deadNow := func(string) bool { return true } // unknown: say it
	if modsErr == nil {
		dead := make(map[string]bool, len(mods))
		for _, m := range mods {
			dead[m.Module] = m.Dead > 0
		}
		deadNow = func(module string) bool { return dead[module] }
	}
	// Dead letters that were replayed or purged since are dealt with: the
	// operator acted, so they no longer make health degraded.
	for _, why := range h.dead.reasons(now, h.cfg.StaleAfter, deadNow) {
		degraded(why)
	}
	if age := time.Duration(v.OldestPendingAgeS * float64(time.Second)); age > h.cfg.StaleAfter {
		degraded(fmt.Sprintf("oldest pending record is %s old (stale after %s)", age.Round(time.Second), h.cfg.StaleAfter))
	}
	for _, why := range h.clockReasons(now, st) {
		degraded(why)
	}
	if modsErr == nil {
		for _, m := range mods {
			if silent, why := h.ModuleSilent(m, now); silent {
				v.SilentModules = append(v.SilentModules, m.Module)
				degraded(why)
			}
			if m.DeadFirst && h.cfg.StrictOrder.Has(m.Module) {
				v.BlockedModules = append(v.BlockedModules, m.Module)
				degraded(fmt.Sprintf("%s is blocked by dead record %s (--strict-order): %d pending records wait behind it; replay or purge it",
					m.Module, m.OldestDead, m.Pending))
			}
		}
	}
	hbs := h.Heartbeats()
	if modsErr == nil {
		// Modules that heartbeat but never sent a record are silent past
		// their max gap only: they have no usual interval.
		for _, m := range heartbeatOnly(mods, hbs) {
			if silent, why := h.ModuleSilent(m, now); silent {
				v.SilentModules = append(v.SilentModules, m.Module)
				degraded(why)
			}
		}
	}
	// A module that says, in its last heartbeat, that it is degraded or
	// down: the bridge works, but what it carries does not.
	for _, hb := range hbs {
		if hb.Status == HeartbeatDegraded || hb.Status == HeartbeatDown {
			why := fmt.Sprintf("module %s says it is %s (heartbeat %s ago)", hb.Module, hb.Status, now.Sub(hb.At).Round(time.Second))
			if hb.Message != "" {
				why += ": " + hb.Message
			}
			degraded(why)
		}
	}
	if why := h.Refusing(ctx); why != "" {
		degraded(why)
	}
	if why := h.diskRefusing(); why != "" {
		degraded(why)
	}
	for _, why := range h.capReasons(now) {
		degraded(why)
	}
	if err := h.writable(ctx); err != nil {
		down("store is not writable: " + err.Error())
	}
	return v
}

// outageSince dates an open breaker's outage: from its first failed
// attempt, and when the breaker opened if that was later.
func outageSince(d bridge.DeliveryStatus) string {
	opened := bridge.FormatTime(d.BreakerOpened)
	if d.FailingSince.IsZero() || !d.FailingSince.Before(d.BreakerOpened) {
		return "since " + opened + " (first failure; circuit breaker open)"
	}
	return fmt.Sprintf("since %s (first failure), circuit breaker open since %s", bridge.FormatTime(d.FailingSince), opened)
}

// IngestRefused tells the hub that ingest refused producers, and why,
// until fewer than below records are pending (0: until IngestAccepted);
// IngestAccepted that it took records in again. Health is degraded in
// between, and /readyz not ready — and since a load balancer then sends
// no producer here, the refusal also ends by itself once the queue has
// drained below the bound. The ingest writer logs the transitions.
func (h *Hub) IngestRefused(why string, below int64) {
	if h == nil {
		return
	}
	r := refusal{why: why, since: h.cfg.Now(), below: below}
	if old := h.refusing.Load(); old != nil {
		r.since = old.since
	}
	h.refusing.Store(&r)
}

// IngestAccepted: see IngestRefused. Cheap when nothing was refused.
func (h *Hub) IngestAccepted() {
	if h == nil || h.refusing.Load() == nil {
		return
	}
	h.refusing.Store(nil) // the writer logs the way down and back (WARN, INFO)
}

// Refusing says why ingest refuses producers now, or "".
func (h *Hub) Refusing(ctx context.Context) string {
	if h == nil {
		return ""
	}
	r := h.refusing.Load()
	if r == nil {
		return ""
	}
	if r.below > 0 {
		if st, err := h.cfg.Store.Stats(ctx); err == nil && st.Pending < r.below {
			// Drained: producers may come back. Said here, since a load
			// balancer sends none until /readyz says so.
			if h.refusing.CompareAndSwap(r, nil) {
				h.log.Info("ingest ready again: the queue drained below --max-pending",
					"pending", st.Pending, "max_pending", r.below, "refusing_since", r.since)
			}
			return ""
		}
	}
	return fmt.Sprintf("ingest refuses producers since %s: %s", bridge.FormatTime(r.since), r.why)
}

// diskRefusing says why the disk guard refuses ingest, or "".
func (h *Hub) diskRefusing() string {
	if h.cfg.DiskGuard == nil {
		return ""
	}
	return h.cfg.DiskGuard()
}

type refusal struct {
	why   string
	since time.Time
	below int64
}

// pingEvery bounds how often health takes a real write to check the store.
const pingEvery = 5 * time.Second

// writable says whether the store takes writes: the last group commit's
// outcome, and a real write (Store.Ping) at most every pingEvery, so that a
// store that broke while nobody was sending is noticed too, while health
// stays cheap to poll.
func (h *Hub) writable(ctx context.Context) error {
	h.pingMu.Lock()
	defer h.pingMu.Unlock()
	if now := time.Now(); now.Sub(h.pingAt) >= h.cfg.PingEvery {
		failed := h.pingErr != nil
		h.pingErr, h.pingAt = h.cfg.Store.Ping(ctx), now
		if h.pingErr != nil {
			if !failed { // once, not at every test write while it lasts
				h.log.Warn("health: store is not writable", "err", h.pingErr)
			}
		} else if h.commitFailed.CompareAndSwap(true, false) || failed {
			// A test write succeeded after a failed one or a failed commit:
			// the store takes writes again, though nobody has sent since (a
			// producer that checks health before sending would otherwise never).
			h.log.Info("health: the store takes writes again")
		}
	}
	if h.pingErr != nil {
		return errors.New("a test write failed: " + bridge.ErrorMessage(h.pingErr))
	}
	if h.commitFailed.Load() {
		if why := h.commitWhy.Load(); why != nil {
			return errors.New("the last commit failed: " + *why)
		}
		return errors.New("the last commit failed")
	}
	return nil
}

// Ready says whether ingest can take updates now, for /readyz: not while
// it refuses (a full queue, the disk guard), nor while the store cannot be
// written (the last commit, or a test write at most every PingEvery:
// /readyz is cheap to poll).
func (h *Hub) Ready(ctx context.Context) error {
	if h == nil {
		return errors.New("insight is not running")
	}
	if why := h.Refusing(ctx); why != "" {
		return errors.New(why)
	}
	if why := h.diskRefusing(); why != "" {
		return errors.New(why)
	}
	if err := h.writable(ctx); err != nil {
		return fmt.Errorf("store is not writable: %w", err)
	}
	return nil
}
