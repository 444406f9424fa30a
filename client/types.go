package client

import "encoding/json"

// UpdateRequest is one update from a Core module.
type UpdateRequest struct {
	// Module names the sending Core module, e.g. "education".
	Module string `json:"module"`
	// Data is the record's content: any value that encodes to a JSON
	// object, such as a struct, a map or a json.RawMessage.
	Data any `json:"data"`
	// SessionID is optional; the bridge assigns a UUID when it is empty.
	SessionID string `json:"session_id,omitempty"`
	// IdempotencyKey, when set, identifies the update for dedupe: a resend
	// with the same key is acknowledged with the first record's id.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// LoadTest marks the update as load-test traffic (the
	// Corebridge-Load-Test header): the bridge stores and delivers it, but
	// does not learn the module's usual interval from it, so a load test
	// does not make the module look silent afterwards.
	LoadTest bool `json:"-"`
}

// UpdateResponse is the bridge's acknowledgement of a stored update.
type UpdateResponse struct {
	Status    string `json:"status"`    // "success"
	Timestamp string `json:"timestamp"` // RFC 3339, UTC
	SessionID string `json:"session_id"`
	Message   string `json:"message"`
	RecordID  string `json:"record_id"`
	// Duplicate is true when the update had been stored before and this
	// answer repeats the first acknowledgement.
	Duplicate bool `json:"duplicate"`
}

type batchRequest struct {
	Updates []UpdateRequest `json:"updates"`
}

// BatchResponse is the answer to Updates: one result per update, in order.
type BatchResponse struct {
	Results []BatchResult `json:"results"`
}

// BatchResult is the acknowledgement of one update of a batch.
type BatchResult struct {
	RecordID  string `json:"record_id"`
	SessionID string `json:"session_id"`
	Timestamp string `json:"timestamp"`
	Duplicate bool   `json:"duplicate"`
}

// BucketStatus says what has reached the Bucket (GET /bucket/status).
type BucketStatus struct {
	LastSyncTime     string           `json:"last_sync_time"` // "" before the first sync
	TotalSyncCount   int64            `json:"total_sync_count"`
	ModuleSyncCounts map[string]int64 `json:"module_sync_counts"`
	// Extra holds every other field of the answer, undecoded.
	Extra map[string]json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the known fields and keeps the rest in Extra.
func (s *BucketStatus) UnmarshalJSON(b []byte) error {
	type plain BucketStatus
	if err := json.Unmarshal(b, (*plain)(s)); err != nil {
		return err
	}
	var err error
	s.Extra, err = extraFields(b, "last_sync_time", "total_sync_count", "module_sync_counts")
	return err
}

// Health is the bridge's health summary (GET /core/health).
type Health struct {
	Status          string  `json:"status"` // "ok", "degraded" or "down"
	UptimeS         float64 `json:"uptime_s"`
	LastSyncTS      string  `json:"last_sync_ts"`
	PendingQueue    int64   `json:"pending_queue"`
	ErrorCount24h   int64   `json:"error_count_24h"`
	AvgLatencyMs24h float64 `json:"avg_latency_ms_24h"`
	// Extra holds every other field of the answer, undecoded.
	Extra map[string]json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the known fields and keeps the rest in Extra.
func (h *Health) UnmarshalJSON(b []byte) error {
	type plain Health
	if err := json.Unmarshal(b, (*plain)(h)); err != nil {
		return err
	}
	var err error
	h.Extra, err = extraFields(b, "status", "uptime_s", "last_sync_ts", "pending_queue", "error_count_24h", "avg_latency_ms_24h")
	return err
}

// extraFields returns the members of the JSON object b not named in known,
// or nil when there are none.
func extraFields(b []byte, known ...string) (map[string]json.RawMessage, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for _, k := range known {
		delete(all, k)
	}
	if len(all) == 0 {
		return nil, nil
	}
	return all, nil
}
