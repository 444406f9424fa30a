package automation

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"corebridge/client"
)

// Defaults of Options.
const (
	DefaultInterval       = 120 * time.Minute // the prototype's --interval
	DefaultKeepReports    = 500
	DefaultMaxReportAge   = 30 * 24 * time.Hour
	DefaultRequestTimeout = 30 * time.Second
	DefaultHistory        = 200
)

// Options configures a Runner. Zero values mean the defaults.
type Options struct {
	APIURL string // the bridge's API, e.g. http://127.0.0.1:8000
	Token  string // bearer token for the bridge's API; "" sends none
	// TLSConfig is the TLS towards an https APIURL; nil uses the system's roots.
	TLSConfig *tls.Config
	// SigningSecret (whsec_…) signs the updates sent through the client;
	// "" signs nothing.
	SigningSecret string

	// ReportsDir receives run_<UTC timestamp>.jsonl, runner.log,
	// daily_log.txt and state.json (last run times, for catch-up).
	// "" writes nothing and forgets last run times on restart.
	ReportsDir   string
	KeepReports  int           // run files kept; < 0 keeps all
	MaxReportAge time.Duration // run files older are deleted; < 0 keeps all

	DefaultInterval time.Duration // for jobs without a trigger
	RequestTimeout  time.Duration // bound on each HTTP request
	History         int           // run records kept in memory for Runs

	Logger *slog.Logger // the process's log; runner.log gets the same lines
	Clock  Clock        // nil = the real clock
	// Jitter returns the random extra added to a retry backoff of d; nil
	// adds up to d/4.
	Jitter func(d time.Duration) time.Duration
	// Lead, when set, says whether this process leads the serve replicas
	// that share a store: jobs fire only on the leader, so each runs once
	// for them all (startup jobs wait until this process leads, if ever).
	// nil: always.
	Lead func() bool
}

// Runner runs the jobs of one Config. Its methods are safe for concurrent use.
type Runner struct {
	cfg    *Config
	opts   Options
	clock  Clock
	jitter func(time.Duration) time.Duration
	api    *client.Client
	hc     *http.Client
	log    *slog.Logger
	files  *reportFiles // nil without ReportsDir

	mu      sync.Mutex
	running map[string]time.Time // job name → start of its run in progress
	history []RunRecord          // oldest first, at most opts.History
	last    map[string]time.Time // job name → last run (its due time)
	loaded  bool                 // last was read from state.json

	// inflight counts watch-mode runs in progress, so that tests with a
	// fake clock can tell when the loop has settled.
	inflight atomic.Int64
}

// New returns a Runner for cfg. It touches no file and no network until
// Run or RunOnce.
func New(cfg *Config, opts Options) *Runner {
	if opts.DefaultInterval <= 0 {
		opts.DefaultInterval = DefaultInterval
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.KeepReports == 0 {
		opts.KeepReports = DefaultKeepReports
	}
	if opts.MaxReportAge == 0 {
		opts.MaxReportAge = DefaultMaxReportAge
	}
	r := &Runner{
		cfg:     cfg,
		opts:    opts,
		clock:   opts.Clock,
		jitter:  opts.Jitter,
		running: map[string]time.Time{},
		last:    map[string]time.Time{},
	}
	if r.clock == nil {
		r.clock = realClock{}
	}
	if r.jitter == nil {
		r.jitter = defaultJitter
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	if opts.TLSConfig != nil {
		tr.TLSClientConfig = opts.TLSConfig
	}
	r.hc = &http.Client{Transport: statusTransport{tr}}
	r.api = client.New(opts.APIURL, client.WithHTTPClient(r.hc), client.WithToken(opts.Token), client.WithSigningSecret(opts.SigningSecret))
	handlers := []slog.Handler{slog.DiscardHandler}
	if opts.Logger != nil {
		handlers[0] = opts.Logger.Handler()
	}
	if opts.ReportsDir != "" {
		r.files = &reportFiles{dir: opts.ReportsDir, keep: opts.KeepReports, maxAge: opts.MaxReportAge}
		handlers = append(handlers, slog.NewTextHandler(r.files.logWriter(), nil))
	}
	r.log = slog.New(slog.NewMultiHandler(handlers...)).With("component", "automation")
	return r
}

// Runs returns the recent run records, newest first.
func (r *Runner) Runs() []RunRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RunRecord, len(r.history))
	for i, rec := range r.history {
		out[len(out)-1-i] = rec
	}
	return out
}

func (r *Runner) remember(rec RunRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.history = append(r.history, rec)
	if over := len(r.history) - r.opts.History; over > 0 {
		r.history = append(r.history[:0], r.history[over:]...)
	}
}

// claim marks job as running; it fails, with the start of the run in
// progress, when it already is. This is what keeps a job from overlapping
// itself, across watch triggers and RunOnce alike.
func (r *Runner) claim(job string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if since, busy := r.running[job]; busy {
		return since, false
	}
	r.running[job] = r.clock.Now()
	return time.Time{}, true
}

func (r *Runner) release(job string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, job)
}

// RunOnce runs every job once, in config order, as `automate --once` does.
// The error is about the reports (a directory that cannot be written);
// failed jobs are in the report (Report.Failed).
func (r *Runner) RunOnce(ctx context.Context) (Report, error) {
	if err := r.loadState(); err != nil {
		return Report{}, err
	}
	fs := make([]firing, len(r.cfg.Jobs))
	for i := range r.cfg.Jobs {
		fs[i] = firing{job: &r.cfg.Jobs[i], trigger: "once", due: r.clock.Now()}
	}
	return r.runBatch(ctx, fs)
}

// firing is one job started by one trigger.
type firing struct {
	job     *Job
	trigger string
	due     time.Time // the slot it fills; the anchor for the next
	skip    string    // when set, the run is recorded as skipped for this reason
}
