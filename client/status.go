package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// HealthDetail is the whole of GET /core/health (Health reads only the
// prototype's fields): the verdict, why, and the figures behind it, as
// `corebridge status` shows them. Raw keeps the answer as it came.
type HealthDetail struct {
	Status  string   `json:"status"` // "ok", "degraded" or "down"
	Reasons []string `json:"reasons"`

	Version    string  `json:"version"`
	Store      string  `json:"store"`
	Auth       string  `json:"auth"`
	UptimeS    float64 `json:"uptime_s"`
	Now        string  `json:"now"`
	LastSyncTS string  `json:"last_sync_ts"`

	QueueDepth        int64    `json:"queue_depth"`
	OldestPendingAgeS float64  `json:"oldest_pending_age_s"`
	DrainETAS         *float64 `json:"drain_eta_s"`
	SyncRatePerS      float64  `json:"sync_rate_per_s"`
	SyncSuccessPct24h *float64 `json:"sync_success_pct_24h"`
	DeadCount         int64    `json:"dead_count"`
	SilentModules     []string `json:"silent_modules"`
	BlockedModules    []string `json:"blocked_modules"`

	BucketURL       string `json:"bucket_url"`
	BucketReachable bool   `json:"bucket_reachable"`
	Breaker         string `json:"breaker"`
	LastDeliveryErr string `json:"last_delivery_error"`

	// Replicas is set for a store several serve replicas share.
	Replicas *ReplicasStatus `json:"replicas"`
	// Reconciliation is set once a reconciliation with the Bucket ran.
	Reconciliation *ReconciliationStatus `json:"reconciliation"`

	// Raw is the answer's JSON, every field included.
	Raw json.RawMessage `json:"-"`
}

// ReplicasStatus names this replica and the one that leads.
type ReplicasStatus struct {
	Instance    string `json:"instance"`
	Leader      string `json:"leader"` // "" while none leads
	Leading     bool   `json:"leading"`
	LeaderSince string `json:"leader_since"`
}

// ReconciliationStatus is the last reconciliation's totals.
type ReconciliationStatus struct {
	ReconciledAt string `json:"reconciled_at"`
	Missing      int64  `json:"missing"`
	Unexpected   int64  `json:"unexpected"`
	Mismatched   int64  `json:"mismatched"`
	Requeued     int64  `json:"requeued"`
	Unsupported  bool   `json:"unsupported"`
	Error        string `json:"error"`
}

// UnmarshalJSON decodes the fields and keeps the whole answer in Raw.
func (h *HealthDetail) UnmarshalJSON(b []byte) error {
	type plain HealthDetail
	if err := json.Unmarshal(b, (*plain)(h)); err != nil {
		return err
	}
	h.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// HealthDetail reads the bridge's whole health (GET /core/health).
func (c *Client) HealthDetail(ctx context.Context) (HealthDetail, error) {
	var out HealthDetail
	err := c.do(ctx, http.MethodGet, "/core/health", nil, nil, &out)
	return out, err
}

// ModuleStatus is one module's counts (a row of GET /api/modules).
type ModuleStatus struct {
	Module       string `json:"module"`
	Received     int64  `json:"received"`
	Synced       int64  `json:"synced"`
	Pending      int64  `json:"pending"`
	Dead         int64  `json:"dead"`
	LastSeenAt   string `json:"last_seen_at"`
	LastSyncAt   string `json:"last_sync_at"`
	Silent       bool   `json:"silent"`
	SilentReason string `json:"silent_reason"`

	// Raw is the row's JSON, every field included.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the fields and keeps the whole row in Raw.
func (m *ModuleStatus) UnmarshalJSON(b []byte) error {
	type plain ModuleStatus
	if err := json.Unmarshal(b, (*plain)(m)); err != nil {
		return err
	}
	m.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Modules reads every module's counts, sorted by name (GET /api/modules).
func (c *Client) Modules(ctx context.Context) ([]ModuleStatus, error) {
	var out struct {
		Modules []ModuleStatus `json:"modules"`
	}
	err := c.do(ctx, http.MethodGet, "/api/modules", nil, nil, &out)
	return out.Modules, err
}
