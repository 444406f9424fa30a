package main

import (
	"context"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
	"corebridge/internal/webhook"
)

func runBucket(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("bucket", "Run the reference central Bucket: stores records by id in its own SQLite\n"+
		"database (a redelivery is answered \"duplicate\"), serves them back in stored\n"+
		"order, and can inject faults for drills. Stop and restart it at will: what it\n"+
		"stored stays stored.", e)
	addr := fs.String("addr", "127.0.0.1:8100", "address to listen on (host:port; port 0 picks a free one)")
	dataDir := fs.String("data-dir", "bucket-data", "directory for the Bucket's database (created if missing)")
	failRate := fs.Float64("fail-rate", 0, "fault injection: fraction of POST /v1/records answered 503 (0 to 1)")
	latency := fs.Duration("latency", 0, "fault injection: delay added before answering each POST /v1/records")
	rejectModule := fs.String("reject-module", "", "fault injection: reject every record of this module")
	logFormat := fs.String("log-format", "auto", "log format: auto (text on a terminal, else JSON), text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key); reloaded on SIGHUP")
	tlsKey := fs.String("tls-key", "", "the private key of --tls-cert (PEM)")
	tokenFile := fs.String("require-token-file", "", "require Authorization: Bearer with one of the tokens in this file (one per line) on every route but /healthz; others get 401; re-read when it changes")
	verifyFile := fs.String("verify-secret-file", "", "require POST /v1/records to be signed (Standard Webhooks) by one of the whsec_… secrets in this file (one per line); others get 401; re-read when it changes")
	sigTolerance := fs.Duration("signature-tolerance", webhook.DefaultTolerance, "how far a signed batch's webhook-timestamp may be from this Bucket's clock, either way (with --verify-secret-file)")
	shutdownTimeout := fs.Duration("shutdown-timeout", defaultShutdownTimeout, "how long shutdown waits for requests in flight")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	faults := server.Faults{FailRate: *failRate, Latency: *latency, RejectModule: *rejectModule}
	if err := faults.Validate(); err != nil {
		return usageError{"bucket: " + err.Error()}
	}
	log, err := newLogger(e.stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	scfg := server.Config{DataDir: *dataDir, Addr: *addr, Faults: faults, Log: log, SignatureTolerance: *sigTolerance}
	tokens := 0
	if *tokenFile != "" {
		w, err := server.WatchTokenFile(*tokenFile, bucket.WatchOptions{OnError: func(err error) {
			log.Warn("cannot re-read --require-token-file; the last tokens stay", "err", err)
		}})
		if err != nil {
			return usageError{"bucket: --require-token-file: " + err.Error()}
		}
		scfg.TokenSource, tokens = w.Get, len(w.Get())
	}
	secrets := 0
	if *verifyFile != "" {
		w, err := bucket.WatchSecrets(*verifyFile, bucket.WatchOptions{OnError: func(err error) {
			log.Warn("cannot re-read --verify-secret-file; the last secrets stay", "err", err)
		}})
		if err != nil {
			return usageError{"bucket: --verify-secret-file: " + err.Error()}
		}
		scfg.VerifySecrets, secrets = w.Get, len(w.Get())
	}

	cert, err := loadTLS("bucket", *tlsCert, *tlsKey, log)
	if err != nil {
		return err
	}
	if cert != nil {
		scfg.TLS = cert.ServerConfig(nil)
		go cert.Run(ctx) // reloads on SIGHUP until ctx ends
	}
	run, err := server.Start(ctx, scfg)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", run.Addr, "url", run.URL, "tls", cert != nil, "version", buildVersion(), "db", run.Store.Path(),
		"fail_rate", faults.FailRate, "latency", faults.Latency.String(), "reject_module", faults.RejectModule, "tokens_required", tokens, "verify_secrets", secrets)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-run.Err():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := run.Stop(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	if serveErr != nil {
		return serveErr
	}
	log.Info("stopped")
	return nil
}
