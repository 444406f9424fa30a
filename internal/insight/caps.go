package insight

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"corebridge/internal/bridge"
)

// The caps that bound what a flood can make the bridge hold (issue 15):
// each refusal past one is reported to the hub with CapRefused.
const (
	CapIngestInflight = "ingest_inflight" // --max-inflight-ingest: ingest requests being served at once
	CapSSEClients     = "sse_clients"     // --max-sse-clients: open dashboard event streams
	CapModules        = "modules"         // --max-modules: distinct module names
)

var capNames = []string{CapIngestInflight, CapSSEClients, CapModules}

// CapQuiet is how long after its last refusal a cap counts as refusing:
// health names it (degraded) until then, and the hub logs one INFO when
// it has passed. A flood refused at every request logs one WARN.
const CapQuiet = 10 * time.Second

// caps tracks refusals past each cap: one episode per cap from the first
// refusal until CapQuiet passes without one.
type caps struct {
	mu  sync.Mutex
	eps map[string]*capEpisode // by cap name; only caps refusing now
}

type capEpisode struct {
	why         string
	since, last time.Time
	refused     uint64
}

func newCapsMetric() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "corebridge_cap_refused_total",
		Help: "Requests refused past a cap since this process started, by cap (ingest_inflight: --max-inflight-ingest, 503; sse_clients: --max-sse-clients, 503; modules: --max-modules, 422).",
	}, []string{"cap"})
	for _, n := range capNames {
		c.WithLabelValues(n) // present at zero, so that rate() works from the start
	}
	return c
}

// CapRefused reports one request refused past the cap name (one of the
// Cap… constants), and why in words that name the limit. The first
// refusal of an episode logs a WARN; health is degraded while it lasts.
func (h *Hub) CapRefused(name, why string) {
	if h == nil {
		return
	}
	h.metrics.capRefused.WithLabelValues(name).Inc()
	now := h.cfg.Now()
	h.caps.mu.Lock()
	ep := h.caps.eps[name]
	if ep == nil {
		ep = &capEpisode{since: now}
		h.caps.eps[name] = ep
		h.log.Warn("refusing requests past a cap", "cap", name, "why", why)
	}
	ep.why, ep.last = why, now
	ep.refused++
	h.caps.mu.Unlock()
}

// capReasons ends the episodes quiet for CapQuiet (one INFO each) and
// says why health is degraded for the others.
func (h *Hub) capReasons(now time.Time) []string {
	h.caps.mu.Lock()
	defer h.caps.mu.Unlock()
	var out []string
	for _, name := range capNames {
		ep := h.caps.eps[name]
		if ep == nil {
			continue
		}
		if now.Sub(ep.last) >= CapQuiet || now.Before(ep.since) {
			delete(h.caps.eps, name)
			h.log.Info("no longer refusing past a cap", "cap", name, "refused", ep.refused,
				"since", bridge.FormatTime(ep.since), "last", bridge.FormatTime(ep.last))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %d refused since %s", ep.why, ep.refused, bridge.FormatTime(ep.since)))
	}
	return out
}

// SetIngestInflight sets where the metrics read the ingest requests being
// served now (the API is built after the hub).
func (h *Hub) SetIngestInflight(fn func() int) {
	h.wireMu.Lock()
	h.inflight = fn
	h.wireMu.Unlock()
}

func (h *Hub) ingestInflight() float64 {
	h.wireMu.Lock()
	fn := h.inflight
	h.wireMu.Unlock()
	if fn == nil {
		return 0
	}
	return float64(fn())
}

func newInflightGauge(h *Hub) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "corebridge_ingest_inflight_requests",
		Help: "Ingest requests being served now (bounded by --max-inflight-ingest).",
	}, h.ingestInflight)
}
