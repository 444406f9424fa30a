package insight

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"corebridge/internal/bridge"
)

// Heartbeat is a module's latest sign of life that is not a record (POST
// /core/heartbeat): silence detection counts it like a record, but
// nothing reaches the Bucket. Heartbeats are kept in memory only: after a
// restart a module counts as alive again from its next heartbeat (or
// record).
type Heartbeat struct {
	Module string    `json:"module"`
	At     time.Time `json:"at"`
	// Status is what the module says of itself: HeartbeatOK,
	// HeartbeatDegraded or HeartbeatDown.
	Status string `json:"status"`
	// Message is the module's own words, "" when it sent none.
	Message string `json:"message,omitempty"`
	// Metrics is the module's own figures (a JSON object), nil when it
	// sent none.
	Metrics json.RawMessage `json:"metrics,omitempty"`
	// Count is how many heartbeats the module sent since the bridge started.
	Count int64 `json:"count"`
}

// Heartbeat statuses.
const (
	HeartbeatOK       = "ok"
	HeartbeatDegraded = "degraded"
	HeartbeatDown     = "down"
)

// DefaultMaxHeartbeatModules bounds the modules whose last heartbeat is
// kept (Config.MaxHeartbeatModules).
const DefaultMaxHeartbeatModules = 10000

// heartbeats is the last heartbeat of each module: a map under a mutex,
// so that a heartbeat a second from thousands of modules costs a map
// write each, and no store write.
type heartbeats struct {
	mu  sync.RWMutex
	m   map[string]*Heartbeat
	max int
}

// ErrTooManyHeartbeatModules refuses a heartbeat of a new module once
// Config.MaxHeartbeatModules modules have heartbeats.
type ErrTooManyHeartbeatModules struct{ Max int }

func (e *ErrTooManyHeartbeatModules) Error() string {
	return fmt.Sprintf("heartbeats are kept for at most %d modules", e.Max)
}

// Heartbeat records hb (hb.Count is ignored: the hub counts). It refuses
// a new module past Config.MaxHeartbeatModules
// (*ErrTooManyHeartbeatModules); a module already known always passes.
func (h *Hub) Heartbeat(hb Heartbeat) error {
	if h == nil {
		return nil
	}
	b := &h.beats
	b.mu.Lock()
	defer b.mu.Unlock()
	old, ok := b.m[hb.Module]
	if !ok {
		if len(b.m) >= b.max {
			return &ErrTooManyHeartbeatModules{Max: b.max}
		}
		old = &Heartbeat{}
		b.m[hb.Module] = old
	}
	n := old.Count + 1
	if hb.At.Before(old.At) {
		// Requests raced: keep the later one, count both.
		old.Count = n
		return nil
	}
	was, is := heartbeatOK(old.Status), heartbeatOK(hb.Status)
	*old = hb
	old.Count = n
	switch {
	case was && !is:
		// Health is degraded while the module says so (health.go).
		h.log.Warn("module says it is "+hb.Status, "module", hb.Module, "message", hb.Message)
	case !was && is:
		h.log.Info("module says it is ok again", "module", hb.Module)
	}
	return nil
}

// heartbeatOK: a module that never sent a status ("") counts as ok.
func heartbeatOK(status string) bool { return status == "" || status == HeartbeatOK }

// LastHeartbeat is module's last heartbeat, if it sent one since the
// bridge started.
func (h *Hub) LastHeartbeat(module string) (Heartbeat, bool) {
	if h == nil {
		return Heartbeat{}, false
	}
	h.beats.mu.RLock()
	defer h.beats.mu.RUnlock()
	if hb, ok := h.beats.m[module]; ok {
		return *hb, true
	}
	return Heartbeat{}, false
}

// Heartbeats is every module's last heartbeat, by module name.
func (h *Hub) Heartbeats() []Heartbeat {
	if h == nil {
		return nil
	}
	h.beats.mu.RLock()
	out := make([]Heartbeat, 0, len(h.beats.m))
	for _, hb := range h.beats.m {
		out = append(out, *hb)
	}
	h.beats.mu.RUnlock()
	slices.SortFunc(out, func(a, b Heartbeat) int { return strings.Compare(a.Module, b.Module) })
	return out
}

// ModuleSilent says whether module m has gone quiet at now, counting its
// last heartbeat as a sign of life as much as its last record.
func (h *Hub) ModuleSilent(m bridge.ModuleSummary, now time.Time) (bool, string) {
	hb, _ := h.LastHeartbeat(m.Module)
	return h.Silence().SilentAt(m, hb.At, now)
}

// heartbeatOnly is the modules of hbs that have no record in the store
// (not in mods), as summaries with nothing in them.
func heartbeatOnly(mods []bridge.ModuleSummary, hbs []Heartbeat) []bridge.ModuleSummary {
	if len(hbs) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(mods))
	for _, m := range mods {
		seen[m.Module] = true
	}
	var out []bridge.ModuleSummary
	for _, hb := range hbs {
		if !seen[hb.Module] {
			out = append(out, bridge.ModuleSummary{Module: hb.Module})
		}
	}
	return out
}
