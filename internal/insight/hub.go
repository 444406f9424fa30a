package insight

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"corebridge/internal/bridge"
)

// Defaults of the hub's log files.
const (
	DefaultMetricsInterval = time.Minute // a snapshot in the metrics log
	DefaultLogMaxSizeMB    = 100         // rotate a log file past this
	DefaultLogBackups      = 5           // rotated files kept per log
)

// Store is the hub's slice of bridge.Store: it reads figures, adds the
// counts the store does not see, and checks that the store takes writes.
type Store interface {
	bridge.Reader
	Ping(ctx context.Context) error
}

// Config wires the hub. Zero values get the documented defaults.
type Config struct {
	Store     Store
	Now       func() time.Time
	Log       *slog.Logger
	Version   string
	StoreKind string // "sqlite", "postgres": shown in health and metrics
	// Replicas, for a store that serve replicas share, says who this
	// replica is and who leads, for health.
	Replicas func(context.Context) (bridge.Replicas, error)
	Auth     string // how requests are authenticated, shown in health (Health.Auth)
	Silence  SilenceConfig
	// Started is when the bridge started, for uptime (default: New's now).
	Started time.Time
	// StaleAfter: health is degraded while the oldest pending record is
	// older than this (default DefaultStaleAfter).
	StaleAfter time.Duration
	// DegradedSuccessPct: health is degraded while the 24 h sync success
	// rate is below this percentage. Unlike the other fields, 0 turns the
	// rule off; serve's default is DefaultDegradedSuccessPct.
	DegradedSuccessPct float64
	// PingEvery bounds how often health and /readyz take a real test
	// write of the store (default 5 s).
	PingEvery time.Duration
	// StrictOrder names the modules a dead record blocks (serve's
	// --strict-order): health names each blocked module and its blocker.
	StrictOrder bridge.StrictOrder
	// DiskGuard, when set, says why ingest refuses for lack of disk space
	// (ingest.DiskGuard.Refusing), or "": health is degraded and /readyz
	// not ready while it does.
	DiskGuard func() string
	// Delivery, when set, reports the forwarder's view of the Bucket
	// (reachable, breaker state) for health and the metrics.
	Delivery func() bridge.DeliveryStatus
	// Log files; an empty path turns the file off.
	CoreSyncLog     string // one line per accepted record
	FlowLog         string // one line per delivery outcome of a record
	MetricsLog      string // a snapshot of the health figures every MetricsInterval
	LogData         bool   // include the record's data in CoreSyncLog
	MetricsInterval time.Duration
	LogMaxSizeMB    int
	LogBackups      int
	// FlushEvery is how often counts the store cannot see (rejected
	// input, ingest failures) are written to it (default 1 s).
	FlushEvery time.Duration
	// MaxHeartbeatModules bounds the modules whose last heartbeat is kept
	// in memory (default DefaultMaxHeartbeatModules): past it a new
	// module's heartbeat is refused.
	MaxHeartbeatModules int
}

// Hub is InsightFlow in one value: the API and the forwarder report to it,
// the health routes, the dashboard and Prometheus read from it. Its
// methods are safe for concurrent use, and nil-safe, so that components
// work without one in tests.
type Hub struct {
	cfg            Config
	reconciliation func() (any, string) // SetReconciliation (guarded by wireMu)
	log            *slog.Logger
	feed           *Feed
	win            window
	metrics        *metrics

	coreSync, flow, snap *LogFile

	mu      sync.Mutex
	pending bridge.RollupSet // counts not yet in the store

	commitFailed atomic.Bool             // the last group commit failed
	commitWhy    atomic.Pointer[string]  // and why, as its producers were told
	security     *security               // refusals of the last 24 h, by reason
	refusing     atomic.Pointer[refusal] // ingest refuses producers (queue full); nil: it accepts
	clockWarned  atomic.Bool             // health logged that the clock went back (clock.go)
	dead         *recentDead             // dead letters of the last StaleAfter, by module
	caps         caps                    // refusals past the caps (caps.go)
	beats        heartbeats              // each module's last heartbeat (heartbeat.go)

	pingMu  sync.Mutex // guards pingAt, pingErr: health's cached test write
	pingAt  time.Time
	pingErr error

	// wireMu guards cfg.Delivery, wired in after New: the forwarder is
	// built after the hub it reports to.
	wireMu   sync.Mutex
	inflight func() int // ingest requests being served now (caps.go); guarded by wireMu
}

// New builds a hub and opens its log files.
func New(cfg Config) (*Hub, error) {
	if cfg.Store == nil {
		return nil, errors.New("insight: no store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MetricsInterval <= 0 {
		cfg.MetricsInterval = DefaultMetricsInterval
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.PingEvery <= 0 {
		cfg.PingEvery = pingEvery
	}
	if cfg.Started.IsZero() {
		cfg.Started = cfg.Now()
	}
	if cfg.MaxHeartbeatModules <= 0 {
		cfg.MaxHeartbeatModules = DefaultMaxHeartbeatModules
	}
	cfg.Silence.defaults()
	h := &Hub{cfg: cfg, log: cfg.Log, feed: NewFeed(), win: window{store: cfg.Store},
		pending: bridge.RollupSet{}, security: newSecurity(), dead: newRecentDead(), caps: caps{eps: map[string]*capEpisode{}},
		beats: heartbeats{m: map[string]*Heartbeat{}, max: cfg.MaxHeartbeatModules}}
	h.metrics = newMetrics(h)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := h.seedDead(sctx)
	cancel()
	if err != nil {
		// Not fatal: only the dead letters from before the restart go unnamed.
		h.log.Warn("insight: read recent dead letters", "err", err)
	}
	for _, f := range []struct {
		path string
		dst  **LogFile
	}{{cfg.CoreSyncLog, &h.coreSync}, {cfg.FlowLog, &h.flow}, {cfg.MetricsLog, &h.snap}} {
		if f.path == "" {
			continue
		}
		l, err := OpenLogFile(LogFileConfig{Path: f.path, MaxSizeMB: cfg.LogMaxSizeMB, MaxBackups: cfg.LogBackups})
		if err != nil {
			h.Close()
			return nil, err
		}
		*f.dst = l
	}
	return h, nil
}

// Feed is the live event feed the dashboard streams.
func (h *Hub) Feed() *Feed {
	if h == nil {
		return nil
	}
	return h.feed
}

// MetricsHandler serves /metrics.
func (h *Hub) MetricsHandler() http.Handler {
	if h == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no metrics: insight is not running", http.StatusServiceUnavailable)
		})
	}
	return h.metrics.handler(h.log)
}

// Silence is the silence-detection configuration.
func (h *Hub) Silence() SilenceConfig {
	if h == nil {
		c := SilenceConfig{}
		c.defaults()
		return c
	}
	return h.cfg.Silence
}

// errNoHub answers figures asked of a nil hub.
var errNoHub = bridge.Errorf(bridge.EUNAVAILABLE, "insight is not running")

// SetDelivery sets where the metrics read the forwarder's view of the
// Bucket (the forwarder is built after the hub, which it reports to).
func (h *Hub) SetDelivery(fn func() bridge.DeliveryStatus) {
	h.wireMu.Lock()
	h.cfg.Delivery = fn
	h.wireMu.Unlock()
}

// SetReconciliation sets where health reads the last reconciliation with
// the Bucket (package reconcile, built after the hub): its view for
// /core/health (nil: none has run) and, when it found records the Bucket
// does not hold, why health is degraded.
func (h *Hub) SetReconciliation(fn func() (view any, degraded string)) {
	h.wireMu.Lock()
	h.reconciliation = fn
	h.wireMu.Unlock()
}

func (h *Hub) reconciled() func() (any, string) {
	h.wireMu.Lock()
	defer h.wireMu.Unlock()
	return h.reconciliation
}

func (h *Hub) delivery() func() bridge.DeliveryStatus {
	h.wireMu.Lock()
	defer h.wireMu.Unlock()
	return h.cfg.Delivery
}

// Run flushes counts to the store and writes metrics snapshots until ctx
// ends, then flushes once more.
func (h *Hub) Run(ctx context.Context) error {
	flush := time.NewTicker(h.cfg.FlushEvery)
	defer flush.Stop()
	snap := time.NewTicker(h.cfg.MetricsInterval)
	defer snap.Stop()
	failing := 0 // flushes failed in a row (a full disk): logged once, not every second
	for {
		select {
		case <-ctx.Done():
			return h.flushCounts(context.WithoutCancel(ctx))
		case <-flush.C:
			h.capReasons(h.cfg.Now()) // logs the end of a refusal nobody asks health about
			if err := h.flushCounts(ctx); err != nil {
				if failing++; failing == 1 {
					h.log.Warn("insight: write counts", "err", err)
				}
			} else if failing > 0 {
				h.log.Info("insight: counts written again", "failed_flushes", failing)
				failing = 0
			}
		case <-snap.C:
			h.writeSnapshot(ctx)
		}
	}
}

// Close flushes counts and the log files. Call it after the API and the
// forwarder have stopped.
func (h *Hub) Close() error {
	if h == nil {
		return nil
	}
	err := h.flushCounts(context.Background())
	for _, l := range []*LogFile{h.coreSync, h.flow, h.snap} {
		err = errors.Join(err, l.Close())
	}
	return err
}

// flushCounts writes pending counts to the store; on failure they are kept
// for the next try.
func (h *Hub) flushCounts(ctx context.Context) error {
	h.mu.Lock()
	if len(h.pending) == 0 {
		h.mu.Unlock()
		return nil
	}
	rs := h.pending.List()
	h.pending = bridge.RollupSet{}
	h.mu.Unlock()
	if err := h.win.add(ctx, rs); err != nil {
		h.mu.Lock()
		for i := range rs {
			h.pending.At(rs[i].Minute, rs[i].Module).Add(&rs[i])
		}
		h.mu.Unlock()
		return err
	}
	return nil
}

// pendingCounts copies the counts not yet in the store.
func (h *Hub) pendingCounts() []bridge.Rollup {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pending.List()
}

// Figures returns the 24 h figures at the hub's now.
func (h *Hub) Figures(ctx context.Context) (Figures, error) {
	if h == nil {
		return Figures{}, errNoHub
	}
	v, err := h.win.read(ctx, h.cfg.Now(), h.pendingCounts(), false)
	if err != nil {
		return Figures{}, err
	}
	return figuresOf(v), nil
}

// Series returns a chart's data for a window named in Windows.
func (h *Hub) Series(ctx context.Context, name string) (Series, error) {
	w, ok := Windows[name]
	if !ok {
		return Series{}, bridge.Errorf(bridge.EINVALID, "unknown window %q: use 1h or 24h", name)
	}
	if h == nil {
		return Series{}, errNoHub
	}
	v, err := h.win.read(ctx, h.cfg.Now(), h.pendingCounts(), true)
	if err != nil {
		return Series{}, err
	}
	return seriesOf(name, v.all, v.now, w.Span, w.Step), nil
}

func (h *Hub) writeSnapshot(ctx context.Context) {
	if h.snap == nil {
		return
	}
	v := h.Health(ctx)
	h.snap.Append(func(b []byte) []byte { return appendJSONLine(b, v) })
}
