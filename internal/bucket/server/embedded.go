package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/webhook"
)

// DBFile is the name of the Bucket's database in its data directory.
const DBFile = "bucket.db"

// Config says where a reference Bucket keeps its data and listens.
type Config struct {
	DataDir string // required; created if missing
	Addr    string // host:port (default 127.0.0.1:0, a free loopback port)
	Faults  Faults
	Log     *slog.Logger   // nil discards
	Rand    func() float64 // see ServerConfig.Rand
	TLS     *tls.Config    // if set, serve HTTPS with it (URL https://…)
	Tokens  []string       // see ServerConfig.Tokens

	TokenSource        func() []string         // see ServerConfig.TokenSource
	VerifySecrets      func() []webhook.Secret // see ServerConfig.VerifySecrets
	SignatureTolerance time.Duration           // see ServerConfig.SignatureTolerance
}

// Running is a reference Bucket serving HTTP.
type Running struct {
	URL    string // e.g. http://127.0.0.1:8100 (https:// with Config.TLS)
	Addr   string // the address it listens on
	Server *Server
	Store  *Store

	hs       *http.Server
	errc     chan error
	stopOnce sync.Once
	stopErr  error
}

// Start opens the store at DataDir/bucket.db, listens on Addr and serves
// until Stop. ctx bounds only the start itself. `corebridge bucket` runs
// one; serve embeds one when it is given no Bucket URL.
func Start(ctx context.Context, cfg Config) (*Running, error) {
	if cfg.DataDir == "" {
		return nil, bridge.Errorf(bridge.EINVALID, "bucket: a data directory is required")
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, bridge.Errorf(bridge.EINVALID, "bucket: %v", err)
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("bucket: create data dir: %w", err)
	}
	store, err := OpenStoreLog(filepath.Join(cfg.DataDir, DBFile), cfg.Log)
	if err != nil {
		return nil, fmt.Errorf("bucket: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("bucket: listen on %s: %w", cfg.Addr, err)
	}
	srv := NewServer(store, cfg.Log, ServerConfig{Faults: cfg.Faults, Rand: cfg.Rand, Tokens: cfg.Tokens,
		TokenSource: cfg.TokenSource, VerifySecrets: cfg.VerifySecrets, SignatureTolerance: cfg.SignatureTolerance})
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// No WriteTimeout: injected latency may be set to anything at run
		// time, and the answer must still get out after it.
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}
	addr, scheme := ln.Addr().String(), "http://"
	if cfg.TLS != nil {
		ln, scheme = tls.NewListener(ln, cfg.TLS), "https://"
	}
	r := &Running{URL: scheme + addr, Addr: addr, Server: srv, Store: store, hs: hs, errc: make(chan error, 1)}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Error("bucket stopped serving", "err", err)
			r.errc <- fmt.Errorf("bucket: serve: %w", err)
		}
	}()
	return r, nil
}

// Err delivers the error if the Bucket stops serving on its own (not by Stop).
func (r *Running) Err() <-chan error { return r.errc }

// Stop stops taking requests, waits for those in flight until ctx is done
// (then cuts them), and closes the store. What was stored stays stored.
// Later calls return the first call's result.
func (r *Running) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() {
		var errs []error
		if err := r.hs.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("bucket: shutdown: %w", err))
			_ = r.hs.Close()
		}
		// Close waits for statements already running, so a batch being
		// stored as the server is cut still commits or rolls back whole.
		if err := r.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("bucket: close store: %w", err))
		}
		r.stopErr = errors.Join(errs...)
	})
	return r.stopErr
}
