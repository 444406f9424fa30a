package insight

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"corebridge/internal/bridge"
)

// metrics are the bridge's Prometheus metrics. Counts that the store keeps
// (records by module and state, queue depth, oldest pending age) are read
// from it at scrape time, so they are true across restarts and replicas;
// what happens in this process (requests, attempts, latencies, commits) is
// counted as it happens.
type metrics struct {
	reg *prometheus.Registry

	ingest      *prometheus.CounterVec
	attempts    *prometheus.CounterVec
	latency     prometheus.Histogram
	commitSize  prometheus.Histogram
	commitTime  prometheus.Histogram
	feedDropped prometheus.CounterFunc
	security    *prometheus.CounterVec
	sigReplays  prometheus.Counter     // signature.go
	capRefused  *prometheus.CounterVec // caps.go
	sigFailures *prometheus.CounterVec // signature.go
}

func newMetrics(h *Hub) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.ingest = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "corebridge_ingest_requests_total",
		Help: "Ingest requests answered since this process started, by route and HTTP status code.",
	}, []string{"route", "code"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "corebridge_delivery_attempts_total",
		Help: "Batches sent to the Bucket since this process started, by outcome (ok, partial, failed, rejected); the 24 h figures of health count attempts per record instead.",
	}, []string{"outcome"})
	buckets := make([]float64, len(bridge.LatencyBoundsMs))
	for i, b := range bridge.LatencyBoundsMs {
		buckets[i] = b / 1000
	}
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "corebridge_delivery_latency_seconds",
		Help:    "Time from a record's acceptance to the Bucket's confirmation, of records synced since this process started.",
		Buckets: buckets,
	})
	m.commitSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "corebridge_commit_batch_records",
		Help:    "Records written per group commit, since this process started.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024},
	})
	m.commitTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "corebridge_commit_duration_seconds",
		Help:    "Time a group commit takes, fsync included, since this process started.",
		Buckets: []float64{.0005, .001, .002, .004, .008, .016, .032, .064, .128, .256, .512, 1},
	})
	m.feedDropped = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "corebridge_event_feed_dropped_total",
		Help: "Events a slow event-feed subscriber (a dashboard) did not get, since this process started.",
	}, func() float64 { return float64(h.feed.Lost()) })
	m.security = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "corebridge_security_events_total",
		Help: "Requests refused or absorbed for security since this process started, by reason (auth_failure, forbidden, cross_site, host_refused, rate_limited, signature_reject, replay).",
	}, []string{"reason"})
	for _, r := range secReasons {
		m.security.WithLabelValues(r) // present at zero, so that rate() works from the start
	}
	m.sigReplays, m.sigFailures = newSignatureMetrics()
	m.capRefused = newCapsMetric()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "corebridge_build_info", Help: "The running version.",
		ConstLabels: prometheus.Labels{"version": h.cfg.Version, "store": h.cfg.StoreKind},
	})
	build.Set(1)
	m.reg.MustRegister(m.ingest, m.attempts, m.latency, m.commitSize, m.commitTime, m.feedDropped, m.security, build,
		m.sigReplays, m.sigFailures, m.capRefused, newInflightGauge(h),
		&storeCollector{h: h},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slogErrorLog{log}, ErrorHandling: promhttp.ContinueOnError})
}

type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) { l.log.Warn("metrics", "err", v) }

// storeCollector reads the store's counters at scrape time.
type storeCollector struct{ h *Hub }

var (
	descReceived = prometheus.NewDesc("corebridge_records_received_total", "Records accepted and stored since the store was created, by module (duplicates excluded).", []string{"module"}, nil)
	descSynced   = prometheus.NewDesc("corebridge_records_synced_total", "Records the Bucket confirmed (synced) since the store was created, by module.", []string{"module"}, nil)
	descDead     = prometheus.NewDesc("corebridge_records_dead_total", "Records that went dead since the store was created, by module; a replayed record that dies again counts again, and replays do not lower it (health: dead_24h over 24 h).", []string{"module"}, nil)
	descReplayed = prometheus.NewDesc("corebridge_records_replayed_total", "Dead letters replayed since the store was created, by module.", []string{"module"}, nil)
	descPending  = prometheus.NewDesc("corebridge_module_pending_records", "Records of the module waiting for delivery now.", []string{"module"}, nil)
	descDeadNow  = prometheus.NewDesc("corebridge_module_dead_records", "Dead letters of the module now: dead and neither replayed nor purged (health: dead_count).", []string{"module"}, nil)
	descSilent   = prometheus.NewDesc("corebridge_module_silent", "1 when the module's producer has gone quiet now (see --silence-factor).", []string{"module"}, nil)
	descLastSeen = prometheus.NewDesc("corebridge_module_last_seen_timestamp_seconds", "When the module's last record was accepted.", []string{"module"}, nil)
	descDepth    = prometheus.NewDesc("corebridge_queue_depth", "Records accepted and neither synced nor dead, now (health: pending_queue).", nil, nil)
	descOldest   = prometheus.NewDesc("corebridge_oldest_pending_age_seconds", "Age of the oldest pending record now (0 when none).", nil, nil)
	descBreaker  = prometheus.NewDesc("corebridge_breaker_state", "Circuit breaker towards the Bucket now: 0 closed, 1 half-open, 2 open.", nil, nil)
	descReach    = prometheus.NewDesc("corebridge_bucket_reachable", "1 when the last contact with the Bucket got an answer.", nil, nil)
	descUp       = prometheus.NewDesc("corebridge_store_up", "1 when the store answered this scrape.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReceived, descSynced, descDead, descReplayed, descPending, descDeadNow,
		descSilent, descLastSeen, descDepth, descOldest, descBreaker, descReach, descUp} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := h.cfg.Now()
	st, err := h.cfg.Store.Stats(ctx)
	mods, err2 := h.cfg.Store.Modules(ctx)
	if err != nil || err2 != nil {
		h.log.Warn("metrics: read store", "err", err, "err_modules", err2)
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(st.Pending))
	age := 0.0
	if !st.OldestPendingAt.IsZero() {
		age = max(0, now.Sub(st.OldestPendingAt).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age)
	for _, m := range mods {
		if m.Module == "" {
			continue
		}
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), m.Module)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, m.Module)
		}
		counter(descReceived, m.Received)
		counter(descSynced, m.Synced)
		counter(descDead, m.DeadTotal)
		counter(descReplayed, m.Replayed)
		gauge(descPending, float64(m.Pending))
		gauge(descDeadNow, float64(m.Dead))
		silent, _ := h.ModuleSilent(m, now)
		gauge(descSilent, b2f(silent))
		if !m.LastSeenAt.IsZero() {
			gauge(descLastSeen, float64(m.LastSeenAt.UnixMicro())/1e6)
		}
	}
	if fn := h.delivery(); fn != nil {
		d := fn()
		state := map[string]float64{"closed": 0, "half-open": 1, "open": 2}[d.Breaker]
		ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, state)
		ch <- prometheus.MustNewConstMetric(descReach, prometheus.GaugeValue, b2f(d.Reachable))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func codeLabel(code int) string { return strconv.Itoa(code) }
