// Package api is the Core-facing HTTP API: the prototype's routes
// (/core/update, /bucket/status, /core/health), batch ingest, dead-letter
// actions, the dashboard's JSON routes, health probes and the OpenAPI
// document: decoding and answers. What happens to an accepted update is
// ingest's (internal/ingest); the figures it shows are insight's.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
	"corebridge/internal/insight"
	"corebridge/internal/reconcile"
	"corebridge/internal/registry"
)

// Body limits by default.
const (
	DefaultMaxBody      = 1 << 20 // one /core/update
	DefaultMaxBatchBody = 8 << 20 // one /core/updates
)

// Config holds the API's settings; zero values get the documented defaults.
type Config struct {
	MaxBody      int64  // bytes of one /core/update body (default DefaultMaxBody)
	MaxBatchBody int64  // bytes of one /core/updates body (default DefaultMaxBatchBody)
	Version      string // shown at the index
	OpenAPIJSON  []byte // served at /openapi.json
	// Now is the acceptance time of records and the time silence is judged
	// at (default time.Now).
	Now func() time.Time
	// OnReplay, when set, is called after dead letters are replayed, to
	// wake the forwarder.
	OnReplay func()
	// Dashboard, when set, is served at / (page), /assets/ and
	// /api/events (server-sent events).
	Dashboard *Dashboard
	// Reconcile, when set, runs reconciliations with the Bucket
	// (/api/reconcile) and adds the last one to /core/health.
	Reconcile *reconcile.Service
	// Automation, when set, lists the automation runner's recent runs for
	// /api/automation/runs; nil says no runner is attached.
	Automation func() any
	// Auth, when set, authenticates every route but the open ones; nil
	// lets every request in as auth.Anonymous (serve allows that only on
	// a loopback address).
	Auth Authenticator
	// Sessions, with Auth, lets the dashboard sign in with a token and
	// carry a session cookie instead of a bearer token.
	Sessions SessionManager
	// AllowedHosts are the names (lower case, no port; "*" = any) that
	// the API answers for in the Host header; empty answers any.
	AllowedHosts []string
	// RateLimits bound the records each principal may send (429 with
	// Retry-After past them); none: no bound.
	RateLimits []RateLimit
	// OpenReadyz and OpenMetrics leave /readyz and /metrics open without
	// a token; otherwise they need a viewer.
	OpenReadyz, OpenMetrics bool
	// SignatureTolerance is how far a signed request's webhook-timestamp
	// may be from Now, either way (default webhook.DefaultTolerance).
	SignatureTolerance time.Duration
	// MaxInflightIngest bounds the ingest requests served at once (503
	// with Retry-After past it, before the body is read; default
	// DefaultMaxInflightIngest; -1: no bound).
	MaxInflightIngest int
	// Modules, when set, bounds the distinct module names (422 naming
	// the limit and the field past it); nil: no bound.
	Modules *ingest.ModuleCap
	// DedupeWindow is how long an idempotency key is remembered (default
	// ingest.DefaultDedupeWindow).
	DedupeWindow time.Duration
	// ContentDedupeWindow is how long an update without a key is a resend
	// of an identical one (default ingest.DefaultContentDedupeWindow;
	// < 0: content dedupe is off).
	ContentDedupeWindow time.Duration
	// DrillReportFile keeps the last drill report published to POST
	// /api/drill across restarts ("": memory only; DrillReportFile()).
	DrillReportFile string
	// Registry, when set, is the list of known modules (the config
	// file's modules:): ingest and heartbeats refuse other modules, and
	// a record whose data does not match its module's schema (422 naming
	// the field; nothing is stored). nil: every module is accepted.
	Registry *registry.Registry
}

// Dashboard is the web UI's handlers, built by internal/dashboard.
type Dashboard struct {
	Page, Assets, Events http.Handler
}

func (c *Config) defaults() {
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxBatchBody <= 0 {
		c.MaxBatchBody = DefaultMaxBatchBody
	}
	if c.MaxInflightIngest == 0 {
		c.MaxInflightIngest = DefaultMaxInflightIngest
	}
	if c.OnReplay == nil {
		c.OnReplay = func() {}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.DedupeWindow <= 0 {
		c.DedupeWindow = ingest.DefaultDedupeWindow
	}
	if c.ContentDedupeWindow == 0 {
		c.ContentDedupeWindow = ingest.DefaultContentDedupeWindow
	}
}

// dedupe is the dedupe policy of cfg.
func (c *Config) dedupe() ingest.Dedupe {
	return ingest.Dedupe{KeyWindow: c.DedupeWindow, ContentWindow: max(c.ContentDedupeWindow, 0)}
}

// Server is the API, an http.Handler.
type Server struct {
	cfg      Config
	store    bridge.Store
	log      *slog.Logger
	ingest   *ingest.Writer
	insight  *insight.Hub
	mux      *http.ServeMux
	patterns []string
	access   map[string]auth.Access // by pattern
	limits   *limiter               // nil: no rate limits
	inflight *inflight              // nil: no bound on ingest requests at once
	drills   *drillReports          // the last drill report published here (drill.go)
}

// NewServer wires the API over store: updates go to the writer w (which
// the caller runs), what happens is reported to hub, which also computes
// the figures shown.
func NewServer(store bridge.Store, w *ingest.Writer, hub *insight.Hub, log *slog.Logger, cfg Config) *Server {
	cfg.defaults()
	s := &Server{cfg: cfg, store: store, log: log, mux: http.NewServeMux(), ingest: w, insight: hub,
		access: map[string]auth.Access{}, limits: newLimiter(cfg.RateLimits), inflight: newInflight(cfg.MaxInflightIngest),
		drills: newDrillReports(cfg.DrillReportFile)}
	if svc := cfg.Reconcile; svc != nil && hub != nil {
		// Health (and so the dashboard's status) says what the last
		// reconciliation found.
		hub.SetReconciliation(func() (any, string) {
			h := svc.Health()
			if h == nil {
				return nil, ""
			}
			return h, h.Degraded
		})
	}
	s.routes()
	return s
}

// ServeHTTP serves the API. The router's own 404 and 405 answers are
// rewritten as the API's JSON error body, so that every error a client
// sees has the same shape.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		w = &routerError{ResponseWriter: w}
	}
	// Through the mux, not the handler Handler returned: only the mux
	// fills in the path's wildcards (r.PathValue).
	s.mux.ServeHTTP(w, r)
}

// routerError replaces the plain-text body of the router's 404 and 405
// with the JSON error body; the status and the Allow header stay. Anything
// else (a redirect) passes through.
type routerError struct {
	http.ResponseWriter
	rewrote, wrote bool
}

func (e *routerError) WriteHeader(status int) {
	if e.wrote {
		return
	}
	e.wrote = true
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		e.ResponseWriter.WriteHeader(status)
		return
	}
	e.rewrote = true
	code, msg := bridge.ENOTFOUND, "no such route"
	if status == http.StatusMethodNotAllowed {
		code, msg = "method_not_allowed", "method not allowed; see the Allow header"
	}
	b, _ := json.Marshal(errorBody{Detail: msg, Error: errorInfo{Code: code, Message: msg}})
	e.Header().Set("Content-Type", "application/json")
	e.Header().Del("X-Content-Type-Options")
	e.ResponseWriter.WriteHeader(status)
	e.ResponseWriter.Write(append(b, '\n'))
}

func (e *routerError) Write(b []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	if e.rewrote {
		return len(b), nil // the router's plain-text body is dropped
	}
	return e.ResponseWriter.Write(b)
}

// Patterns returns the patterns of every route, as registered.
func (s *Server) Patterns() []string { return append([]string(nil), s.patterns...) }
