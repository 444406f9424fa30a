package insight

import "github.com/prometheus/client_golang/prometheus"

func newSignatureMetrics() (prometheus.Counter, *prometheus.CounterVec) {
	return prometheus.NewCounter(prometheus.CounterOpts{
			Name: "corebridge_signature_replays_total",
			Help: "Signed ingest requests whose records were all stored before (a webhook-id sent again), since this process started: answered duplicate, nothing stored.",
		}), prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "corebridge_signature_failures_total",
			Help: "Ingest requests refused 401 for their signature since this process started, by reason (missing, bad_id, bad_timestamp, too_old, too_new, malformed, no_match).",
		}, []string{"reason"})
}

// SignatureReplay counts a signed request that stored nothing new.
func (h *Hub) SignatureReplay() {
	if h == nil {
		return
	}
	h.metrics.sigReplays.Inc()
	h.security.add(SecReplay, h.cfg.Now())
}

// SignatureFailure counts a request refused for its signature.
func (h *Hub) SignatureFailure(reason string) {
	if h == nil {
		return
	}
	h.metrics.sigFailures.WithLabelValues(reason).Inc()
	h.Security(SecSignatureReject)
}
