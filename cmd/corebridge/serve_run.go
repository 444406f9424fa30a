package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"corebridge/internal/auth"

	"golang.org/x/sync/errgroup"
)

// run starts the background services, serves until ctx ends (or the
// server or a service fails), then shuts down in order.
func (m *serveMain) run(ctx context.Context, ready func(apiURL, bucketURL string)) error {
	failed := m.startServices(ctx)
	if err := m.startDebug(); err != nil {
		return err
	}
	served := m.serveHTTP(ready)
	m.startAutomation(ctx)
	var runErr error
	select {
	case err := <-served:
		runErr = fmt.Errorf("serve: %w", err)
	case <-failed.Done():
		runErr = fmt.Errorf("background service stopped: %w", context.Cause(failed))
	case <-ctx.Done():
	}
	return m.shutdown(runErr)
}

// startServices starts the ingest writer and the background services
// (forwarder, janitor, insight). The returned context ends if a service
// fails. The writer stops first, once the HTTP server has answered
// requests in flight; the others after it, so that commits still wake
// the forwarder.
func (m *serveMain) startServices(ctx context.Context) context.Context {
	ingestCtx, stopIngest := context.WithCancel(context.WithoutCancel(ctx))
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		m.writer.Run(ingestCtx) // returns nil once every commit taken in is done
	}()
	m.stopWriter = sync.OnceFunc(func() { stopIngest(); <-writerDone })

	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(bgCtx)
	g.Go(func() error { return m.fwd.Run(gctx) })
	g.Go(func() error { return m.janitor.Run(gctx) })
	g.Go(func() error { return m.recon.Run(gctx) }) // nil-safe: returns at once without a schedule
	g.Go(func() error { return m.hub.Run(gctx) })
	g.Go(func() error { return m.guard.Run(gctx) }) // nil-safe: returns at once without a guard
	if m.pg != nil {
		g.Go(func() error { m.lead.Run(gctx); return nil })
		if !m.cfg.postgresNoListen {
			// Records another replica accepted (or replayed) wake this
			// replica's forwarder too.
			g.Go(func() error { m.pg.Listen(gctx, m.fwd.Notify); return nil })
		}
	}
	if m.tokens != nil {
		g.Go(func() error { return m.tokens.Run(gctx) }) // reloads on SIGHUP and on change
	}
	if m.tls.cert != nil {
		g.Go(func() error { return m.tls.cert.Run(gctx) }) // reloads on SIGHUP
	}
	m.stopServices = sync.OnceValue(func() error { stopBg(); return g.Wait() })
	// On any way out, before the hub and the store close.
	m.undo = append(m.undo, func() { m.stopWriter(); m.stopServices() })
	return gctx
}

// startDebug serves Go's pprof profiles on --debug-addr, if set.
func (m *serveMain) startDebug() error {
	if m.cfg.debugAddr == "" {
		return nil
	}
	dl, err := net.Listen("tcp", m.cfg.debugAddr)
	if err != nil {
		return fmt.Errorf("listen on --debug-addr %s: %w", m.cfg.debugAddr, err)
	}
	ds := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
	go ds.Serve(dl)
	m.undo = append(m.undo, func() { ds.Close() })
	m.log.Info("pprof listening", "url", "http://"+dl.Addr().String()+"/debug/pprof/")
	return nil
}

// serveHTTP serves the API on the listener; the channel gets the error
// that stops it.
func (m *serveMain) serveHTTP(ready func(apiURL, bucketURL string)) <-chan error {
	addr := m.ln.Addr().String()
	store := []any{"store", m.storeKind, "db", m.dbPath}
	if m.pg == nil {
		store = append(store, "sqlite_sync", m.cfg.sqliteSync, "min_free_disk", m.cfg.minFreeDisk.String())
	} else {
		store = append(store, "instance", m.cfg.instance)
	}
	m.log.Info("listening", append(append([]any{"addr", addr, "url", m.scheme() + addr, "dashboard", m.scheme() + addr + "/", "tls", m.tls.cert != nil,
		"version", buildVersion()}, store...),
		"bucket", auth.RedactURL(m.bucketURL), "auth", m.authMode(), "allowed_hosts", m.cfg.allowedHosts.String())...)
	errc := make(chan error, 1)
	go func() { errc <- m.hs.Serve(m.ln) }()
	if ready != nil {
		ready(m.scheme()+addr, m.bucketURL)
	}
	return errc
}

// startAutomation runs the --automation jobs, if any.
func (m *serveMain) startAutomation(ctx context.Context) {
	if m.runner == nil {
		m.stopAutomation = func(context.Context) {}
		return
	}
	autoCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.runner.Run(autoCtx); err != nil {
			m.log.Error("automation stopped", "err", err)
		}
	}()
	m.stopAutomation = func(sctx context.Context) {
		stop()
		select {
		case <-done:
		case <-sctx.Done():
			m.log.Warn("shutdown: automation action still in flight was cut")
		}
	}
	m.undo = append(m.undo, stop)
	m.log.Info("automation running", "config", m.cfg.automation, "jobs", len(m.jobs.Jobs), "reports", m.cfg.automationReports)
}

// shutdown stops in order: the automation's action in flight finishes
// against a live API; requests in flight get their commits and answers;
// the ingest writer stops; the batches in flight settle. close then stops
// the embedded Bucket and closes the store.
func (m *serveMain) shutdown(runErr error) error {
	m.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), m.cfg.shutdownTimeout)
	defer cancel()
	m.stopAutomation(sctx)
	if err := m.hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		m.log.Warn("shutdown: requests still in flight were cut", "err", err)
	}
	m.stopWriter()
	if err := m.stopServices(); err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
		runErr = err
	}
	m.log.Info("stopped")
	return runErr
}
