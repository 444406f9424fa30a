// Package server is the reference Bucket: the protocol's server side, with its own SQLite store and fault injection.
//
// `corebridge bucket` runs one; serve embeds one when it is given no Bucket
// URL. The wire types it answers with are package bucket's.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"corebridge/internal/webhook"
)

// Limits of the reference Bucket.
const (
	MaxBody          = 16 << 20 // bytes of one POST /v1/records body
	DefaultListLimit = 100      // records per GET /v1/records page
	MaxListLimit     = 1000
)

// Faults are the reference Bucket's fault injection, for drills, demos and
// tests. The zero value injects nothing.
type Faults struct {
	// FailRate is the fraction of POST /v1/records answered 503 with
	// Retry-After: 1, without touching the store (0 none, 1 all).
	FailRate float64
	// Latency is added before answering every POST /v1/records.
	Latency time.Duration
	// RejectModule, if not "", has every record of that module rejected.
	RejectModule string
}

// Validate says what is wrong with f, if anything.
func (f Faults) Validate() error {
	if f.FailRate < 0 || f.FailRate > 1 || f.FailRate != f.FailRate {
		return fmt.Errorf("fail rate must be between 0 and 1, not %v", f.FailRate)
	}
	if f.Latency < 0 {
		return fmt.Errorf("latency must not be negative, not %v", f.Latency)
	}
	return nil
}

// ServerConfig holds the server's settings; zero values get the defaults.
type ServerConfig struct {
	Faults // initial fault injection; see Server.SetFaults
	// Rand returns a number in [0, 1) that decides whether a request fails
	// under FailRate (default math/rand/v2.Float64). Calls are serialized.
	Rand func() float64
	// MaxBody bounds a POST /v1/records body (default MaxBody, 16 MiB).
	MaxBody int64
	// Tokens, if any, are required (Authorization: Bearer) on every route
	// but /healthz; a request without one of them is answered 401.
	Tokens []string
	// TokenSource, if set, is asked per request for the tokens required,
	// instead of Tokens (see WatchTokenFile).
	TokenSource func() []string
	// VerifySecrets, if set, is asked per POST /v1/records for the
	// Standard Webhooks secrets (see bucket.WatchSecrets) one of which
	// must have signed the body; an unsigned, wrongly signed or stale
	// request is answered 401 and stores nothing.
	VerifySecrets func() []webhook.Secret
	// SignatureTolerance is how far a webhook-timestamp may be from now,
	// either way (default webhook.DefaultTolerance, 5 min).
	SignatureTolerance time.Duration
	// Now is the clock signatures are checked against (default time.Now).
	Now func() time.Time
}

// Server is the reference Bucket's HTTP API over a Store.
type Server struct {
	store   *Store
	log     *slog.Logger
	maxBody int64
	mux     *http.ServeMux
	handler http.Handler

	mu     sync.Mutex // guards faults and rand
	faults Faults
	rand   func() float64
}

// NewServer returns the Bucket API over store. The Server is an
// http.Handler; its faults can be changed while it serves.
func NewServer(store *Store, log *slog.Logger, cfg ServerConfig) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = MaxBody
	}
	s := &Server{store: store, log: log, maxBody: cfg.MaxBody, mux: http.NewServeMux(),
		faults: sanitize(cfg.Faults), rand: cfg.Rand}
	s.routes()
	s.handler = s.mux
	if cfg.VerifySecrets != nil {
		if cfg.Now == nil {
			cfg.Now = time.Now
		}
		s.handler = requireSignature(s, cfg.VerifySecrets, cfg.SignatureTolerance, cfg.Now, s.handler)
	}
	tokens := cfg.TokenSource
	if tokens == nil && len(cfg.Tokens) > 0 {
		tokens = func() []string { return cfg.Tokens }
	}
	if tokens != nil {
		s.handler = requireToken(s, tokens, s.handler)
	}
	return s
}

// ServeHTTP serves the Bucket API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// SetFaults replaces the fault injection; requests that start afterwards
// see it. Out-of-range values are clamped.
func (s *Server) SetFaults(f Faults) {
	f = sanitize(f)
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	s.log.Info("bucket faults set", "fail_rate", f.FailRate, "latency", f.Latency.String(), "reject_module", f.RejectModule)
}

// Faults returns the fault injection in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// shouldFail decides whether this request is one of FailRate's.
func (s *Server) shouldFail(rate float64) bool {
	switch {
	case rate <= 0:
		return false
	case rate >= 1:
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rand() < rate
}

func sanitize(f Faults) Faults {
	if f.FailRate != f.FailRate || f.FailRate < 0 { // NaN too
		f.FailRate = 0
	}
	f.FailRate = min(f.FailRate, 1)
	f.Latency = max(f.Latency, 0)
	return f
}

// sleep waits d, or less if the request goes away.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
