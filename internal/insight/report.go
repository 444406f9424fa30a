package insight

import (
	"encoding/json"
	"time"

	"corebridge/internal/bridge"
)

// Ingest counts one answered ingest request of n updates: every answer in
// the metrics; invalid input (4xx) and the bridge's own failures (5xx) in
// the rollups, under the module when it was valid ("" otherwise).
func (h *Hub) Ingest(route, module string, code, n int) {
	if h == nil {
		return
	}
	h.metrics.ingest.WithLabelValues(route, codeLabel(code)).Inc()
	if code < 400 {
		return
	}
	if !bridge.ValidModule(module) {
		module = ""
	}
	h.mu.Lock()
	r := h.pending.At(h.cfg.Now(), module)
	if code >= 500 {
		r.IngestErrors += int64(n)
	} else {
		r.Rejected += int64(n)
	}
	h.mu.Unlock()
}

// Committed observes one group commit of the ingest writer, failed or not.
func (h *Hub) Committed(records int, took time.Duration, err error) {
	if h == nil {
		return
	}
	if err != nil {
		why := bridge.ErrorMessage(err)
		h.commitWhy.Store(&why)
	}
	h.commitFailed.Store(err != nil)
	h.metrics.commitSize.Observe(float64(records))
	h.metrics.commitTime.Observe(took.Seconds())
}

// coreSyncLine is a line of logs/core_sync.log.
type coreSyncLine struct {
	Timestamp string          `json:"timestamp"`
	Module    string          `json:"module"`
	SessionID string          `json:"session_id"`
	RecordID  string          `json:"record_id"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// Accepted reports committed updates: recs as submitted, res as the store
// answered (a duplicate names its original).
func (h *Hub) Accepted(recs []bridge.NewRecord, res []bridge.Appended) {
	if h == nil {
		return
	}
	watch := h.feed.Subscribers() > 0
	if !watch && h.coreSync == nil {
		return
	}
	evs := make([]Event, 0, len(recs))
	for i, r := range recs {
		a := res[i]
		kind := KindAccepted
		if a.Duplicate {
			kind = KindDuplicate
		}
		evs = append(evs, Event{Kind: kind, At: a.ReceivedAt, Module: r.Module, RecordID: a.ID, SessionID: a.SessionID})
	}
	if watch {
		h.feed.Publish(evs...)
	}
	if h.coreSync != nil {
		h.coreSync.Append(func(b []byte) []byte {
			for i, e := range evs {
				if e.Kind != KindAccepted {
					continue // a duplicate was logged when its original was
				}
				line := coreSyncLine{Timestamp: bridge.FormatTime(e.At), Module: e.Module, SessionID: e.SessionID, RecordID: e.RecordID}
				if h.cfg.LogData {
					line.Data = recs[i].Data
				}
				b = appendJSONLine(b, line)
			}
			return b
		})
	}
}

// flowLine is a line of insight/flow.log.
type flowLine struct {
	Timestamp  string  `json:"timestamp"`
	Module     string  `json:"module"`
	RecordID   string  `json:"record_id"`
	Status     string  `json:"status"` // synced, failed, dead
	LatencyMs  float64 `json:"latency_ms"`
	Attempt    int     `json:"attempt"`
	HTTPStatus int     `json:"http_status,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// Delivered reports one delivery attempt of a batch and each record's fate.
// Latency on a synced record is acceptance → confirmation; on others it is
// the attempt's round trip.
func (h *Hub) Delivered(a bridge.Attempt, synced, dead, retried []bridge.Record) {
	if h == nil {
		return
	}
	h.metrics.attempts.WithLabelValues(a.Outcome).Inc()
	if len(dead) > 0 {
		h.dead.add(dead[0].Module, int64(len(dead)), dead[len(dead)-1].LastError, a.At)
	}
	n := len(synced) + len(dead) + len(retried)
	evs := make([]Event, 0, n)
	for _, r := range synced {
		lat := a.At.Sub(r.ReceivedAt)
		h.metrics.latency.Observe(lat.Seconds())
		evs = append(evs, Event{Kind: KindSynced, At: a.At, Module: r.Module, RecordID: r.ID, SessionID: r.SessionID,
			Attempt: r.Attempts + 1, LatencyMs: ms(lat), HTTPStatus: a.HTTPStatus})
	}
	for _, r := range retried {
		evs = append(evs, Event{Kind: KindFailed, At: a.At, Module: r.Module, RecordID: r.ID, SessionID: r.SessionID,
			Attempt: r.Attempts + 1, LatencyMs: ms(a.Latency), HTTPStatus: a.HTTPStatus, Error: r.LastError})
	}
	for _, r := range dead {
		evs = append(evs, Event{Kind: KindDead, At: a.At, Module: r.Module, RecordID: r.ID, SessionID: r.SessionID,
			Attempt: r.Attempts + 1, LatencyMs: ms(a.Latency), HTTPStatus: a.HTTPStatus, Error: r.LastError})
	}
	h.feed.Publish(evs...)
	if h.flow != nil {
		h.flow.Append(func(b []byte) []byte {
			for _, e := range evs {
				b = appendJSONLine(b, flowLine{Timestamp: bridge.FormatTime(e.At), Module: e.Module, RecordID: e.RecordID,
					Status: e.Kind, LatencyMs: e.LatencyMs, Attempt: e.Attempt, HTTPStatus: e.HTTPStatus, Error: e.Error})
			}
			return b
		})
	}
}

// Changed reports a hand-made change to dead letters: kind is KindReplayed,
// KindPurged or KindEdited; module or recordID may be empty.
func (h *Hub) Changed(kind, module, recordID string, count int) {
	if h == nil {
		return
	}
	h.feed.Publish(Event{Kind: kind, At: bridge.Truncate(h.cfg.Now()), Module: module, RecordID: recordID, Count: count})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// appendJSONLine appends v as one JSON line.
func appendJSONLine(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		j, _ = json.Marshal(map[string]string{"error": "cannot encode log line: " + err.Error()})
	}
	b = append(b, j...)
	return append(b, '\n')
}
