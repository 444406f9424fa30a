package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"corebridge"
	"corebridge/internal/api"
	"corebridge/internal/automation"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
	"corebridge/internal/dashboard"
	"corebridge/internal/deliver"
	"corebridge/internal/ingest"
	"corebridge/internal/insight"
	"corebridge/internal/maintenance"
	"corebridge/internal/store/sqlite"

	"golang.org/x/sync/errgroup"
)

type serveConfig struct {
	addr            string
	dataDir         string
	logFormat       string
	logLevel        string
	maxBody         byteSize
	maxBatchBody    byteSize
	maxPending      int64
	sqliteSync      string
	shutdownTimeout time.Duration

	bucketURL     string
	bucketAddr    string
	batchSize     int
	batchBytes    byteSize
	concurrency   int
	maxAttempts   int
	maxAge        time.Duration
	timeout       time.Duration
	staleAfter    time.Duration
	retention     time.Duration
	instance      string
	breakerCool   time.Duration
	breakerThresh int
	debugAddr     string

	silenceFactor   float64
	silenceMin      time.Duration
	silenceMaxGap   gapList
	coreSyncLog     string
	flowLog         string
	metricsLog      string
	metricsInterval time.Duration
	logData         bool
	logMaxSize      int
	logBackups      int
	commitWait      time.Duration

	automation        string
	automationReports string
	automationEvery   time.Duration
}

// serveFlags defines serve's flags on fs; demo reuses them.
func serveFlags(fs *flag.FlagSet) *serveConfig {
	cfg := &serveConfig{maxBody: api.DefaultMaxBody, maxBatchBody: api.DefaultMaxBatchBody, batchBytes: deliver.DefaultBatchBytes}
	host, _ := os.Hostname()
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8000", "address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&cfg.dataDir, "data-dir", "data", "directory for the database (created if missing)")
	fs.StringVar(&cfg.logFormat, "log-format", "auto", "log format: auto (text on a terminal, else JSON), text or json")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Var(&cfg.maxBody, "max-body", "largest /core/update body, in bytes or with KiB/MiB")
	fs.Var(&cfg.maxBatchBody, "max-batch-body", "largest /core/updates body")
	fs.Int64Var(&cfg.maxPending, "max-pending", ingest.DefaultMaxPending, "refuse ingest (503) while this many records wait for delivery; -1 = no bound")
	fs.DurationVar(&cfg.commitWait, "commit-wait", 0, "when several requests queue for a commit, wait up to this (e.g. 500us) for more to share its fsync; helps with many producers and delivery on the same cores, hurts with few; 0 = never")
	fs.StringVar(&cfg.sqliteSync, "sqlite-sync", "FULL", "SQLite synchronous mode: FULL (fsync every commit) or NORMAL (a power loss may lose the last commits)")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for requests and deliveries in flight")
	fs.StringVar(&cfg.bucketURL, "bucket-url", "", "URL of the central Bucket; empty runs a reference Bucket inside this process")
	fs.StringVar(&cfg.bucketAddr, "bucket-addr", "127.0.0.1:0", "listen address of the embedded Bucket (only without --bucket-url)")
	fs.IntVar(&cfg.batchSize, "batch-size", deliver.DefaultBatchSize, "records per delivery batch")
	fs.Var(&cfg.batchBytes, "batch-bytes", "data bytes per delivery batch")
	fs.IntVar(&cfg.concurrency, "delivery-concurrency", deliver.DefaultConcurrency, "batches in flight at once, each of a different module")
	fs.IntVar(&cfg.maxAttempts, "max-attempts", deliver.DefaultMaxAttempts, "dead-letter a record after this many failed attempts")
	fs.DurationVar(&cfg.maxAge, "max-age", deliver.DefaultMaxAge, "dead-letter a failing record older than this")
	fs.DurationVar(&cfg.timeout, "delivery-timeout", deliver.DefaultTimeout, "timeout of one delivery request to the Bucket")
	fs.DurationVar(&cfg.staleAfter, "stale-after", insight.DefaultStaleAfter, "health is degraded while the oldest pending record is older than this")
	fs.DurationVar(&cfg.retention, "retention", maintenance.DefaultRetention, "prune synced records (and attempt history) older than this")
	fs.StringVar(&cfg.instance, "instance", host, "name of this instance: owner of its delivery leases, stable across restarts")
	fs.DurationVar(&cfg.breakerCool, "breaker-cooldown", deliver.DefaultBreakerCooldown, "while the circuit breaker is open, probe the Bucket this often")
	fs.IntVar(&cfg.breakerThresh, "breaker-threshold", deliver.DefaultBreakerThreshold, "consecutive failed deliveries that open the circuit breaker")
	fs.StringVar(&cfg.debugAddr, "debug-addr", "", "if set, serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); keep it on loopback")
	fs.Float64Var(&cfg.silenceFactor, "silence-factor", insight.DefaultSilenceFactor, "flag a module silent after this many times its usual interval without a record")
	fs.DurationVar(&cfg.silenceMin, "silence-min", insight.DefaultSilenceMin, "never flag a module silent before this long without a record")
	fs.Var(&cfg.silenceMaxGap, "silence-max-gap", "per-module longest gap before it is silent, e.g. finance=10m,robotics=1h")
	fs.StringVar(&cfg.coreSyncLog, "core-sync-log", "logs/core_sync.log", "InsightFlow: one JSON line per accepted record (off = none)")
	fs.StringVar(&cfg.flowLog, "flow-log", "insight/flow.log", "InsightFlow: one JSON line per delivery outcome of a record (off = none)")
	fs.StringVar(&cfg.metricsLog, "metrics-log", "logs/metrics.jsonl", "InsightFlow: a snapshot of the health figures every --metrics-interval (off = none)")
	fs.DurationVar(&cfg.metricsInterval, "metrics-interval", insight.DefaultMetricsInterval, "how often --metrics-log gets a snapshot")
	fs.BoolVar(&cfg.logData, "log-data", false, "include each record's data in --core-sync-log")
	fs.IntVar(&cfg.logMaxSize, "log-max-size", insight.DefaultLogMaxSizeMB, "rotate an InsightFlow log file past this many MiB")
	fs.IntVar(&cfg.logBackups, "log-backups", insight.DefaultLogBackups, "rotated InsightFlow log files kept per file")
	fs.StringVar(&cfg.automation, "automation", "", "run the automation jobs of this config (e.g. automation/config.json) inside serve; empty = none")
	fs.StringVar(&cfg.automationReports, "automation-reports", "automation/reports", "where --automation writes its run reports, runner.log and daily_log.txt")
	fs.DurationVar(&cfg.automationEvery, "automation-interval", automation.DefaultInterval, "interval of --automation jobs that set no trigger")
	return cfg
}

func runServe(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("serve", "Run the bridge: accept updates from Core modules, store them durably, deliver them to the Bucket.", e)
	cfg := serveFlags(fs)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	log, err := newLogger(e.stderr, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log, nil)
}

// serve runs the bridge until ctx is cancelled. ready, when set, is called
// with the API's and the Bucket's URLs once both answer.
func serve(ctx context.Context, cfg *serveConfig, log *slog.Logger, ready func(apiURL, bucketURL string)) error {
	if cfg.batchSize < 1 || cfg.concurrency < 1 || cfg.maxAttempts < 1 {
		return usageError{"--batch-size, --delivery-concurrency and --max-attempts must be at least 1"}
	}
	var jobs *automation.Config
	if cfg.automation != "" {
		c, err := automation.Load(cfg.automation)
		if err != nil {
			return usageError{fmt.Sprintf("serve: --automation %s: %v", cfg.automation, err)}
		}
		jobs = c
	}
	if err := os.MkdirAll(cfg.dataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	dbPath := filepath.Join(cfg.dataDir, "corebridge.db")
	opened := time.Now()
	store, err := sqlite.Open(dbPath, sqlite.Options{Synchronous: cfg.sqliteSync})
	if err != nil {
		return err
	}
	// Opening reads every dedupe key into memory (~1.7 s per million).
	log.Info("store opened", "db", dbPath, "dedupe_keys", store.DedupeKeys(), "took", time.Since(opened).Round(time.Millisecond).String())
	// After the open, so that the first target counts the keys just read.
	tuneGC(ctx)
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()

	// The Bucket: the user's, or a reference one inside this process.
	bucketURL := cfg.bucketURL
	if bucketURL == "" {
		b, err := server.Start(ctx, server.Config{DataDir: cfg.dataDir, Addr: cfg.bucketAddr, Log: log.With("component", "bucket")})
		if err != nil {
			return fmt.Errorf("embedded bucket: %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := b.Stop(sctx); err != nil {
				log.Error("stop embedded bucket", "err", err)
			}
		}()
		bucketURL = b.URL
		log.Info("embedded bucket started (no --bucket-url given)", "url", b.URL, "db", filepath.Join(cfg.dataDir, server.DBFile))
	}
	hub, err := insight.New(insight.Config{
		Store: store, Log: log.With("component", "insight"), Version: buildVersion(), StoreKind: "sqlite",
		StaleAfter:  cfg.staleAfter,
		Silence:     insight.SilenceConfig{Factor: cfg.silenceFactor, Min: cfg.silenceMin, MaxGap: cfg.silenceMaxGap},
		CoreSyncLog: logPath(cfg.coreSyncLog), FlowLog: logPath(cfg.flowLog), MetricsLog: logPath(cfg.metricsLog),
		LogData: cfg.logData, MetricsInterval: cfg.metricsInterval, LogMaxSizeMB: cfg.logMaxSize, LogBackups: cfg.logBackups,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := hub.Close(); err != nil {
			log.Error("close insight", "err", err)
		}
	}()
	sender := bucket.NewClient(bucketURL, bucket.WithConcurrency(cfg.concurrency+1), bucket.WithTimeout(cfg.timeout))
	fwd := deliver.New(store, sender, log.With("component", "deliver"), deliver.Config{
		BatchSize: cfg.batchSize, BatchBytes: int(cfg.batchBytes), Concurrency: cfg.concurrency,
		MaxAttempts: cfg.maxAttempts, MaxAge: cfg.maxAge, Timeout: cfg.timeout,
		BreakerThreshold: cfg.breakerThresh, BreakerCooldown: cfg.breakerCool,
		Owner: cfg.instance, BucketURL: bucketURL,
		OnOutcome: func(o deliver.Outcome) { hub.Delivered(o.Attempt, o.Synced, o.Dead, o.Retried) },
	})
	hub.SetDelivery(fwd.Status)

	doc, err := corebridge.OpenAPIJSON()
	if err != nil {
		return err
	}

	var runner *automation.Runner // set once the listen address is known
	var runs func() any
	if jobs != nil {
		runs = func() any { return runner.Runs() }
	}
	dash := dashboard.New(dashboard.Config{
		Feed: hub.Feed(), Version: buildVersion(), Log: log.With("component", "dashboard"),
		Summary: func(ctx context.Context) (any, error) { return hub.Health(ctx), nil },
	})
	writer := ingest.New(store, log, ingest.Config{MaxPending: cfg.maxPending, Wait: cfg.commitWait,
		OnCommit: fwd.Notify, Observe: hub.Committed})
	srv := api.NewServer(store, writer, hub, log, api.Config{
		MaxBody: int64(cfg.maxBody), MaxBatchBody: int64(cfg.maxBatchBody),
		Version: buildVersion(), OpenAPIJSON: doc, OnReplay: fwd.Notify,
		Dashboard:  &api.Dashboard{Page: dash.Page(), Assets: dash.Assets(), Events: dash.Events()},
		Automation: runs,
	})
	// The writer stops after the HTTP server, once requests in flight have
	// their answers: see the shutdown below.
	ingestCtx, stopIngest := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIngest()
	ingestDone := make(chan error, 1)
	go func() { ingestDone <- writer.Run(ingestCtx) }()
	stopWriter := sync.OnceValue(func() error { stopIngest(); return <-ingestDone })
	defer stopWriter()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	if jobs != nil {
		// The runner talks to this bridge over HTTP, like any producer.
		runner = automation.New(jobs, automation.Options{APIURL: "http://" + ln.Addr().String(),
			ReportsDir: cfg.automationReports, DefaultInterval: cfg.automationEvery,
			Logger: log}) // the runner adds its own component attribute
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Open dashboards' event streams end when shutdown starts, instead of
	// holding it for the whole timeout.
	hs.RegisterOnShutdown(dash.Close)

	// Background services run until shutdown has drained ingest.
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBg()
	g, gctx := errgroup.WithContext(bgCtx)
	g.Go(func() error { return fwd.Run(gctx) })
	janitor, err := maintenance.NewJanitor(store, log.With("component", "janitor"), maintenance.JanitorConfig{Retention: cfg.retention})
	if err != nil {
		return usageError{fmt.Sprintf("--retention: %v", err)}
	}
	g.Go(func() error { return janitor.Run(gctx) })
	g.Go(func() error { return hub.Run(gctx) })

	if cfg.debugAddr != "" {
		dl, err := net.Listen("tcp", cfg.debugAddr)
		if err != nil {
			return fmt.Errorf("listen on --debug-addr %s: %w", cfg.debugAddr, err)
		}
		ds := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		go ds.Serve(dl)
		defer ds.Close()
		log.Info("pprof listening", "url", "http://"+dl.Addr().String()+"/debug/pprof/")
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String(), "dashboard", "http://"+ln.Addr().String()+"/",
		"version", buildVersion(), "store", "sqlite", "db", dbPath, "sqlite_sync", cfg.sqliteSync, "bucket", bucketURL)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if ready != nil {
		ready("http://"+ln.Addr().String(), bucketURL)
	}
	autoCtx, stopAuto := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAuto()
	autoDone := make(chan struct{})
	if runner != nil {
		go func() {
			defer close(autoDone)
			if err := runner.Run(autoCtx); err != nil {
				log.Error("automation stopped", "err", err)
			}
		}()
		log.Info("automation running", "config", cfg.automation, "jobs", len(jobs.Jobs), "reports", cfg.automationReports)
	} else {
		close(autoDone)
	}
	var runErr error
	select {
	case err := <-errc:
		runErr = fmt.Errorf("serve: %w", err)
	case <-gctx.Done():
		runErr = fmt.Errorf("background service stopped: %w", context.Cause(gctx))
	case <-ctx.Done():
	}

	// Stop taking requests and let those in flight get their commits and
	// answers; stop the writer; let the batches in flight settle; then the
	// deferred calls stop the embedded Bucket and close the store.
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	// The automation's action in flight finishes against a live API first.
	stopAuto()
	select {
	case <-autoDone:
	case <-sctx.Done():
		log.Warn("shutdown: automation action still in flight was cut")
	}
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown: requests still in flight were cut", "err", err)
	}
	stopWriter()
	stopBg()
	if err := g.Wait(); err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
		runErr = err
	}
	log.Info("stopped")
	return runErr
}

// logPath turns "off" (or "none", "-") into "": the file is not written.
func logPath(p string) string {
	switch p {
	case "off", "none", "-":
		return ""
	}
	return p
}
