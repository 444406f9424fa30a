// Package insight is InsightFlow: what the bridge tells the people watching
// it. It turns what the API and the forwarder report (events) into
// per-minute rollups kept in the store, Prometheus metrics, the prototype's
// log files and a live event feed for the dashboard. Nothing here is on
// ingest's critical section: publishing never blocks on a watcher.
package insight

import "time"

// Event kinds.
const (
	KindAccepted  = "accepted"  // a record was committed
	KindDuplicate = "duplicate" // an update was absorbed as a duplicate of a stored record
	KindSynced    = "synced"    // the Bucket confirmed a record
	KindFailed    = "failed"    // a delivery attempt failed; the record will be retried
	KindDead      = "dead"      // a record was given up on (dead letter)
	KindReplayed  = "replayed"  // dead letters were made pending again
	KindPurged    = "purged"    // dead letters were deleted
	KindEdited    = "edited"    // a dead letter's data was edited before replay
)

// Event is one thing that happened to one record (or, for replayed and
// purged, to Count records of Module). It is what the event feed carries
// and what the log files are written from.
type Event struct {
	Kind       string    `json:"kind"`
	At         time.Time `json:"at"`
	Module     string    `json:"module,omitempty"`
	RecordID   string    `json:"record_id,omitempty"`
	SessionID  string    `json:"session_id,omitempty"`
	Attempt    int       `json:"attempt,omitempty"`    // delivery attempt number (1 = first)
	LatencyMs  float64   `json:"latency_ms,omitempty"` // synced: acceptance → confirmation
	HTTPStatus int       `json:"http_status,omitempty"`
	Error      string    `json:"error,omitempty"`
	Count      int       `json:"count,omitempty"`
}
