package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"corebridge/internal/bridge"
)

// ErrRunning is the error of Service.Reconcile while another run is going.
var ErrRunning = errors.New("a reconciliation is already running; wait for it to finish (GET /api/reconcile shows the last report)")

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Local  bridge.Reconcilable
	Bucket Bucket
	Log    *slog.Logger
	// Every runs a reconciliation on schedule (Run); 0: only on demand.
	Every time.Duration
	// Lead, when set, says whether this replica leads: scheduled runs
	// happen on the leader only (replicas sharing one store would all
	// compare the same records).
	Lead func() bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service runs reconciliations inside serve, one at a time: on demand
// (the API) and on schedule; it keeps the last report for the API, health
// and the metrics.
type Service struct {
	cfg ServiceConfig

	run sync.Mutex // held by the run going

	mu        sync.Mutex
	last      *Report
	hadFaults bool // the last run that compared found faults
	unsupp    bool // the last run found the Bucket without the extension

	lastRun    prometheus.Gauge
	records    *prometheus.GaugeVec
	roundTrips prometheus.Gauge
}

// NewService returns a Service; Run runs its schedule.
func NewService(cfg ServiceConfig) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg}
	s.lastRun = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "corebridge_reconcile_last_run_timestamp_seconds",
		Help: "When the last reconciliation with the Bucket finished (0: none since this process started).",
	})
	s.records = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "corebridge_reconcile_records",
		Help: "Records the last reconciliation found, by kind: missing (synced here, not held by the Bucket), unexpected (held there, unknown here), mismatched (held there with other content).",
	}, []string{"kind"})
	for _, k := range []string{"missing", "unexpected", "mismatched"} {
		s.records.WithLabelValues(k)
	}
	s.roundTrips = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "corebridge_reconcile_round_trips",
		Help: "Requests to the Bucket the last reconciliation took.",
	})
	return s
}

// Collectors are the Service's metrics, for the metrics registry.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.lastRun, s.records, s.roundTrips}
}

// Reconcile runs one reconciliation with o (its Local and Bucket are the
// Service's), unless one is running: ErrRunning.
func (s *Service) Reconcile(ctx context.Context, o Options) (Report, error) {
	t, err := s.Acquire()
	if err != nil {
		return Report{}, err
	}
	return t.Run(ctx, o)
}

// Ticket is the right to run the next reconciliation, from Acquire.
type Ticket struct {
	s    *Service
	used bool
}

// Acquire takes the right to run a reconciliation, or fails with
// ErrRunning while one runs; the caller must Run (or Release) it. It lets
// the API answer 409 before it starts streaming.
func (s *Service) Acquire() (*Ticket, error) {
	if !s.run.TryLock() {
		return nil, ErrRunning
	}
	return &Ticket{s: s}, nil
}

// Release gives the right back without running.
func (t *Ticket) Release() {
	if !t.used {
		t.used = true
		t.s.run.Unlock()
	}
}

// Run runs the reconciliation and gives the right back.
func (t *Ticket) Run(ctx context.Context, o Options) (Report, error) {
	if t.used {
		return Report{}, errors.New("reconcile: ticket used twice")
	}
	defer t.Release()
	s := t.s
	o.Local, o.Bucket, o.Now = s.cfg.Local, s.cfg.Bucket, s.cfg.Now
	rep, err := Run(ctx, o)
	if ctx.Err() != nil && err != nil {
		return rep, err // cut short: not a finding
	}
	s.record(rep, o)
	return rep, err
}

// Running says whether a reconciliation is going now.
func (s *Service) Running() bool {
	if s.run.TryLock() {
		s.run.Unlock()
		return false
	}
	return true
}

// record keeps rep as the last report, updates the metrics and logs what
// changed.
func (s *Service) record(rep Report, o Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = &rep
	s.lastRun.Set(float64(rep.FinishedAt.UnixMicro()) / 1e6)
	t := rep.Totals
	s.records.WithLabelValues("missing").Set(float64(t.Missing))
	s.records.WithLabelValues("unexpected").Set(float64(t.Unexpected))
	s.records.WithLabelValues("mismatched").Set(float64(t.Mismatched))
	s.roundTrips.Set(float64(t.RoundTrips))
	log := s.cfg.Log
	switch {
	case rep.Unsupported:
		if !s.unsupp {
			log.Warn("reconciliation: "+rep.Message+"; nothing was compared", "bucket_extension", "GET /v1/reconcile")
		}
		s.unsupp = true
		return
	case rep.Error != "":
		log.Error("reconciliation failed", "err", rep.Error, "modules_done", len(rep.Modules))
		return
	}
	s.unsupp = false
	attrs := []any{"modules", len(rep.Modules), "synced_here", t.SyncedHere, "held_there", t.HeldThere,
		"missing", t.Missing, "unexpected", t.Unexpected, "mismatched", t.Mismatched, "in_flight", t.InFlight,
		"dead_held", t.DeadHeld, "requeued", t.Requeued, "round_trips", t.RoundTrips, "chain_gaps", t.ChainGaps,
		"took_ms", rep.TookMS}
	if t.Faults() > 0 {
		msg := fmt.Sprintf("reconciliation: the Bucket does not hold what was delivered (%d missing, %d unexpected, %d mismatched)",
			t.Missing, t.Unexpected, t.Mismatched)
		if t.Missing > t.Requeued {
			msg += "; corebridge reconcile --repair requeues the missing ones"
		}
		log.Warn(msg, attrs...)
		s.hadFaults = true
		return
	}
	if s.hadFaults {
		log.Info("reconciliation: the Bucket holds everything delivered again", attrs...)
	} else {
		log.Info("reconciliation: the Bucket holds everything delivered", attrs...)
	}
	s.hadFaults = false
}

// Last returns the last report, if a reconciliation ran.
func (s *Service) Last() (Report, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return Report{}, false
	}
	return *s.last, true
}

// Health is the last reconciliation as /core/health shows it.
type Health struct {
	ReconciledAt string `json:"reconciled_at"`
	Missing      int64  `json:"missing"`
	Unexpected   int64  `json:"unexpected"`
	Mismatched   int64  `json:"mismatched"`
	Requeued     int64  `json:"requeued"`
	Unsupported  bool   `json:"unsupported"`
	Error        string `json:"error,omitempty"`
	// Degraded, when not "", is why health is degraded: records the
	// Bucket does not hold and that were not requeued.
	Degraded string `json:"-"`
}

// Health returns the last reconciliation for health; nil when none ran.
func (s *Service) Health() *Health {
	if s == nil {
		return nil
	}
	rep, ok := s.Last()
	if !ok {
		return nil
	}
	t := rep.Totals
	h := &Health{ReconciledAt: bridge.FormatTime(rep.FinishedAt), Missing: t.Missing, Unexpected: t.Unexpected,
		Mismatched: t.Mismatched, Requeued: t.Requeued, Unsupported: rep.Unsupported, Error: rep.Error}
	if n := t.Missing - t.Requeued; n > 0 {
		h.Degraded = fmt.Sprintf("the last reconciliation (%s) found %d records synced here that the Bucket does not hold; corebridge reconcile --repair requeues them",
			h.ReconciledAt, n)
	}
	return h
}

// Run reconciles every Every until ctx ends (at once if Every is 0),
// on the leader only. A failed run is logged and the schedule goes on.
func (s *Service) Run(ctx context.Context) error {
	if s == nil || s.cfg.Every <= 0 {
		return nil
	}
	t := time.NewTicker(s.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if s.cfg.Lead != nil && !s.cfg.Lead() {
			continue
		}
		if _, err := s.Reconcile(ctx, Options{}); errors.Is(err, ErrRunning) {
			s.cfg.Log.Info("reconciliation: skipped, one started on demand is still running")
		}
	}
}
