package insight

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics adds collectors of other parts (reconciliation's
// gauges) to the metrics served at /metrics.
func (h *Hub) RegisterMetrics(cs ...prometheus.Collector) error {
	if h == nil {
		return nil
	}
	for _, c := range cs {
		if err := h.metrics.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
