// Package dashboard is InsightFlow's web page: one HTML page, its stylesheet
// and script embedded in the binary (no CDN, no build step, works offline),
// and a server-sent event stream that pushes the insight feed and the
// summary figures to it. The page reads the rest of what it shows from the
// API's JSON routes; this package only serves the page and the stream.
package dashboard

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"corebridge/internal/insight"
)

// Config is what the dashboard needs from the program.
type Config struct {
	// Feed is the insight event feed that /api/events streams. Nil sends
	// no record events (the summary still flows).
	Feed *insight.Feed
	// Summary returns the body of /api/summary; the stream sends it every
	// SummaryEvery. Nil sends no summary events.
	Summary func(ctx context.Context) (any, error)
	// SummaryEvery is how often the stream sends the summary (default 1 s).
	SummaryEvery time.Duration
	// PingEvery is how often an idle stream sends a comment, so that
	// proxies and the browser keep it open (default 15 s).
	PingEvery time.Duration
	// MaxEventsPerSecond bounds the record events sent to one stream; the
	// rest are counted as lost (default 200). A person cannot read more,
	// and a browser tab should not be flooded at 30,000 records/s.
	MaxEventsPerSecond int
	// MaxClients bounds the event streams open at once; past it a new
	// one is answered 503 with Retry-After (default DefaultMaxClients;
	// -1: no bound).
	MaxClients int
	// OnRefused, when set, is told of each stream refused past
	// MaxClients, with why in words that name the limit.
	OnRefused func(why string)
	// Version is shown on the page before the first summary arrives.
	Version string
	Log     *slog.Logger
}

// Dashboard serves the page, its assets and the event stream.
type Dashboard struct {
	cfg    Config
	assets *assetSet
	page   []byte
	etag   string

	closeOnce sync.Once
	closed    chan struct{}

	clients atomic.Int64 // open event streams
	shared  sharedSummary
}

// DefaultMaxClients bounds the open event streams (--max-sse-clients):
// each holds a connection, a goroutine, a feed buffer of
// insight.DefaultBuffer events and a 16 KiB write buffer, about 200 KiB.
const DefaultMaxClients = 100

// New returns a dashboard for cfg; zero fields get their defaults.
func New(cfg Config) *Dashboard {
	if cfg.SummaryEvery <= 0 {
		cfg.SummaryEvery = time.Second
	}
	if cfg.PingEvery <= 0 {
		cfg.PingEvery = 15 * time.Second
	}
	if cfg.MaxEventsPerSecond <= 0 {
		cfg.MaxEventsPerSecond = 200
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.OnRefused == nil {
		cfg.OnRefused = func(string) {}
	}
	d := &Dashboard{cfg: cfg, assets: builtAssets(), closed: make(chan struct{})}
	d.shared = sharedSummary{compute: cfg.Summary, every: cfg.SummaryEvery}
	d.page, d.etag = d.assets.renderPage(cfg.Version)
	return d
}

// Close ends every open event stream and makes new ones end at once. Call
// it when the HTTP server shuts down (http.Server.RegisterOnShutdown):
// a stream never goes idle, so Shutdown would otherwise wait for it.
func (d *Dashboard) Close() { d.closeOnce.Do(func() { close(d.closed) }) }

// securityHeaders are set on the page: everything it loads comes from this
// server, so the policy can say exactly that.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// Page serves the HTML page (mount at GET /{$}). It is small and names the
// hashed assets, so it is revalidated every time (no-cache, with an ETag).
func (d *Dashboard) Page() http.Handler { return servePage(d.page, d.etag) }

func servePage(page []byte, etag string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		securityHeaders(h)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
}

// Assets serves the stylesheet, script and icon under their content-hashed
// names (mount at GET /assets/{name}); a name never changes meaning, so
// browsers may keep it for a year.
func (d *Dashboard) Assets() http.Handler { return serveAssets(d.assets) }

func serveAssets(set *assetSet) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := set.byName[r.PathValue("name")]
		if !ok {
			http.Error(w, "no such asset", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(a.body)
	})
}
