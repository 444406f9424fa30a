package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"corebridge"
	"corebridge/internal/api"
	"corebridge/internal/auth"
	"corebridge/internal/automation"
	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
	"corebridge/internal/dashboard"
	"corebridge/internal/deliver"
	"corebridge/internal/ingest"
	"corebridge/internal/insight"
	"corebridge/internal/maintenance"
	"corebridge/internal/reconcile"
	"corebridge/internal/store/postgres"
	"corebridge/internal/store/sqlite"
)

// serveMain is one run of serve, put together in steps. newServeMain
// checks the configuration; open runs each step of openSteps in order,
// and each step that opens or starts something registers how to undo it;
// run serves until ctx ends and then shuts down in order; close undoes
// what open did, in reverse. A new part (another store, an auth file) is
// one more step.
type serveMain struct {
	cfg  *serveConfig
	log  *slog.Logger
	jobs *automation.Config // nil without --automation

	tokens      *auth.Tokens   // nil: no --auth-file
	sessions    *auth.Sessions // the dashboard's sign-in, with tokens
	tls         serveTLS
	runnerAuth  *internalAuth // with --auth-file and --automation
	runnerToken string        // its secret, for the runner only
	openReadyz  bool
	openMetric  bool
	rateLimits  []api.RateLimit

	storeKind string // "sqlite" or "postgres"
	dbPath    string // the SQLite file, or the PostgreSQL URL without its password
	store     bridge.Store
	pg        *postgres.Store      // with --postgres-url
	lead      *postgres.Leadership // with --postgres-url
	bucketURL string
	hub       *insight.Hub
	fwd       *deliver.Forwarder
	janitor   *maintenance.Janitor
	recon     *reconcile.Service // nil: the store cannot be reconciled
	bucketOpt []bucket.Option    // delivery's credentials, for the reconciliation's client
	writer    *ingest.Writer
	guard     *ingest.DiskGuard // nil: --min-free-disk 0
	dash      *dashboard.Dashboard
	rawLn     net.Listener // the API's port, taken before anything is created
	ln        net.Listener
	hs        *http.Server
	runner    *automation.Runner // nil without --automation

	// Set by run's steps: each stops what it names, once.
	stopWriter     func()
	stopServices   func() error
	stopAutomation func(context.Context)

	undo []func() // what close runs, last first
}

// newServeMain checks what can be checked before anything is opened.
func newServeMain(cfg *serveConfig, log *slog.Logger) (*serveMain, error) {
	if cfg.batchSize < 1 || cfg.concurrency < 1 || cfg.maxAttempts < 1 {
		return nil, usageError{"--batch-size, --delivery-concurrency and --max-attempts must be at least 1"}
	}
	if err := checkBucketURL(cfg.bucketURL); err != nil {
		return nil, err
	}
	if !(cfg.degradedPct >= 0 && cfg.degradedPct <= 100) {
		return nil, usageError{fmt.Sprintf("--degraded-success-pct must be between 0 (off) and 100, not %v", cfg.degradedPct)}
	}
	if err := checkDedupeWindows(cfg); err != nil {
		return nil, err
	}
	m := &serveMain{cfg: cfg, log: log}
	if err := m.checkExposure(); err != nil {
		return nil, err
	}
	limits, err := api.ParseRateLimits(cfg.rateLimit)
	if err != nil {
		return nil, usageError{"--rate-limit " + err.Error()}
	}
	m.rateLimits = limits
	for _, p := range cfg.openProbes {
		switch p {
		case "readyz":
			m.openReadyz = true
		case "metrics":
			m.openMetric = true
		case "none":
		default:
			return nil, usageError{fmt.Sprintf("--open-probes: %q is not a probe; use readyz, metrics or none", p)}
		}
	}
	if cfg.automation != "" {
		c, err := automation.Load(cfg.automation)
		if err != nil {
			return nil, usageError{fmt.Sprintf("serve: --automation %s: %v", cfg.automation, err)}
		}
		m.jobs = c
	}
	return m, nil
}

// open opens the store and builds every part, in the order they depend
// on each other; on error, close undoes the steps already done.
func (m *serveMain) open(ctx context.Context) error {
	for _, step := range []func(context.Context) error{
		m.openAuth,
		m.openTLS,
		m.reserve,
		m.openStore,
		m.newDiskGuard,
		m.auditReloads,
		m.startBucket,
		m.openInsight,
		m.newForwarder,
		m.newJanitor,
		m.newReconciler,
		m.newAPI,
		m.listen,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// close undoes open's steps, last first.
func (m *serveMain) close() {
	for i := len(m.undo) - 1; i >= 0; i-- {
		m.undo[i]()
	}
	m.undo = nil
}

// checkExposure refuses to serve a non-loopback address with no auth
// file, unless told to, loudly.
func (m *serveMain) checkExposure() error {
	if m.cfg.authFile != "" || loopbackAddr(m.cfg.addr) {
		return nil
	}
	if m.cfg.insecureNoAuth {
		m.log.Warn("INSECURE: serving a non-loopback address with no authentication (--insecure-no-auth): anyone who reaches it may send records and replay or purge dead letters",
			"addr", m.cfg.addr)
		return nil
	}
	return usageError{fmt.Sprintf("serve: refusing to listen on %s with no --auth-file: anyone who reaches it could send records and purge dead letters.\n"+
		"Create tokens with `corebridge token new --name NAME --role producer --module MODULE` (roles: producer, viewer, operator, admin),\n"+
		"put the printed lines under `tokens:` in a file, and start with --auth-file FILE. Or listen on 127.0.0.1.", m.cfg.addr)}
}

// loopbackAddr says whether the host of addr (host:port) is a loopback one.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// openAuth loads the auth file, if any; without one every request is
// auth.Anonymous, which checkExposure allowed only on loopback.
func (m *serveMain) openAuth(context.Context) error {
	if m.cfg.authFile == "" {
		return nil
	}
	t, err := auth.Open(m.cfg.authFile, m.log.With("component", "auth"))
	if err != nil {
		return usageError{fmt.Sprintf("--auth-file %s: %v", m.cfg.authFile, err)}
	}
	m.tokens = t
	if m.sessions, err = auth.NewSessions(t, sessionTTL); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	if m.jobs != nil {
		// The runner inside serve is an admin, as the prototype's scheduler
		// was: its jobs may send updates of any module, read status and
		// replay dead letters (each action audited under its name).
		if m.runnerAuth, m.runnerToken, err = newInternalAuth(t, "automation", auth.RoleAdmin); err != nil {
			return fmt.Errorf("automation token: %w", err)
		}
	}
	return nil
}

// sessionTTL is how long a dashboard sign-in lasts (a restart ends it too).
const sessionTTL = 12 * time.Hour

// authenticator is the API's authenticator: nil without an auth file;
// with --automation, the auth file's tokens and one for the runner.
func (m *serveMain) authenticator() api.Authenticator {
	if m.tokens == nil {
		return nil
	}
	if m.runnerAuth != nil {
		return m.runnerAuth
	}
	return m.tokens
}

// sessionManager is the API's session manager: nil without an auth file.
func (m *serveMain) sessionManager() api.SessionManager {
	if m.sessions == nil {
		return nil
	}
	return m.sessions
}

// authKind is Health.Auth: tokens, none or insecure.
func (m *serveMain) authKind() string {
	switch {
	case m.tokens != nil:
		return "tokens"
	case !loopbackAddr(m.cfg.addr):
		return "insecure"
	}
	return "none"
}

// authMode says how requests are authenticated, for the start-up log.
func (m *serveMain) authMode() string {
	switch {
	case m.tokens != nil:
		return fmt.Sprintf("tokens (%d in %s)", m.tokens.Len(), m.cfg.authFile)
	case m.cfg.insecureNoAuth && !loopbackAddr(m.cfg.addr):
		return "NONE (--insecure-no-auth)"
	}
	return "none (loopback only; every request may do everything)"
}

// openStore opens the durable outbox: SQLite in the data dir, or the
// PostgreSQL database of --postgres-url.
func (m *serveMain) openStore(ctx context.Context) error {
	if err := os.MkdirAll(m.cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir %s cannot be created by this user (uid %d): %w", m.cfg.dataDir, os.Getuid(), err)
	}
	if err := checkWritableDir(m.cfg.dataDir); err != nil {
		return err
	}
	if m.cfg.postgresURL != "" {
		return m.openPostgres(ctx)
	}
	m.storeKind, m.dbPath = "sqlite", filepath.Join(m.cfg.dataDir, "corebridge.db")
	opened := time.Now()
	store, err := sqlite.Open(m.dbPath, sqlite.Options{Synchronous: m.cfg.sqliteSync, DedupeMemory: int64(m.cfg.dedupeMemory),
		Log: m.log.With("component", "store")})
	if err != nil {
		return err
	}
	m.store = store
	m.undo = append(m.undo, func() {
		if err := store.Close(); err != nil {
			m.log.Error("close store", "err", err)
		}
	})
	// Opening reads the dedupe runs' filters and the keys stored since the
	// last run was written (a store made before runs writes them once).
	runs, onDisk, filters := store.DedupeRuns()
	m.log.Info("store opened", "db", m.dbPath, "dedupe_keys_in_memory", store.DedupeKeys(), "dedupe_runs", runs,
		"dedupe_keys_on_disk", onDisk, "dedupe_filter_bytes", filters, "took", time.Since(opened).Round(time.Millisecond).String())
	// After the open, so that the first target counts the keys just read.
	tuneGC(ctx)
	return nil
}

// openPostgres opens the store on PostgreSQL, shared with other replicas,
// and this replica's part in the leader election.
func (m *serveMain) openPostgres(ctx context.Context) error {
	m.storeKind, m.dbPath = "postgres", auth.RedactURL(m.cfg.postgresURL)
	if host, _ := os.Hostname(); m.cfg.instance == host {
		// Replicas on one host need distinct lease owners: a replica
		// that restarts frees the leases of its own name.
		if _, port, err := net.SplitHostPort(m.cfg.addr); err == nil {
			m.cfg.instance = net.JoinHostPort(host, port)
		}
	}
	opened := time.Now()
	store, err := postgres.Open(ctx, m.cfg.postgresURL, postgres.Options{MaxConns: m.cfg.postgresPool, Log: m.log.With("component", "store")})
	if err != nil {
		return err
	}
	m.store, m.pg = store, store
	m.lead = store.Leadership(m.cfg.instance)
	m.undo = append(m.undo, func() {
		if err := store.Close(); err != nil {
			m.log.Error("close store", "err", err)
		}
	})
	m.log.Info("store opened", "store", "postgres", "db", m.dbPath, "instance", m.cfg.instance, "pool", m.cfg.postgresPool,
		"listen", !m.cfg.postgresNoListen, "took", time.Since(opened).Round(time.Millisecond).String())
	return nil
}

// leading says whether this replica leads the others on a shared store
// (nil for a store of one process: it always does).
func (m *serveMain) leading() func() bool {
	if m.lead == nil {
		return nil
	}
	return m.lead.Leading
}

// newDiskGuard builds the guard that refuses ingest before the store's
// disk fills (--min-free-disk), and looks once: a bridge started on a
// full disk refuses from its first request.
func (m *serveMain) newDiskGuard(context.Context) error {
	if m.pg != nil {
		return nil // the database's disk is the database server's to watch
	}
	if m.cfg.minFreeDisk.Off() {
		m.log.Info("disk guard off (--min-free-disk 0): ingest is refused only once the disk is full")
		return nil
	}
	m.guard = ingest.NewDiskGuard(ingest.GuardConfig{Dir: filepath.Dir(m.dbPath), MinFree: m.cfg.minFreeDisk,
		Log: m.log.With("component", "ingest")})
	m.guard.Check()
	return nil
}

// startBucket takes the user's Bucket, or starts a reference one inside
// this process when --bucket-url is not given.
func (m *serveMain) startBucket(ctx context.Context) error {
	if m.cfg.bucketURL != "" {
		m.bucketURL = m.cfg.bucketURL
		return nil
	}
	b, err := server.Start(ctx, server.Config{DataDir: m.cfg.dataDir, Addr: m.cfg.bucketAddr, Log: m.log.With("component", "bucket")})
	if err != nil {
		return fmt.Errorf("embedded bucket: %w", err)
	}
	m.undo = append(m.undo, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Stop(sctx); err != nil {
			m.log.Error("stop embedded bucket", "err", err)
		}
	})
	m.bucketURL = b.URL
	m.log.Info("embedded bucket started (no --bucket-url given)", "url", b.URL, "db", filepath.Join(m.cfg.dataDir, server.DBFile))
	return nil
}

// openInsight builds the hub that everything reports to, with its log files.
func (m *serveMain) openInsight(context.Context) error {
	cfg := m.cfg
	var replicas func(context.Context) (bridge.Replicas, error)
	if m.lead != nil {
		replicas = m.lead.Replicas
	}
	hub, err := insight.New(insight.Config{Replicas: replicas,
		Store: m.store, Log: m.log.With("component", "insight"), Version: buildVersion(), StoreKind: m.storeKind,
		StaleAfter: cfg.staleAfter, DegradedSuccessPct: cfg.degradedPct, Auth: m.authKind(), StrictOrder: cfg.strictOrder,
		DiskGuard:   m.guard.Refusing,
		Silence:     insight.SilenceConfig{Factor: cfg.silenceFactor, Min: cfg.silenceMin, MaxGap: cfg.silenceMaxGap},
		CoreSyncLog: logPath(cfg.coreSyncLog), FlowLog: logPath(cfg.flowLog), MetricsLog: logPath(cfg.metricsLog),
		LogData: cfg.logData, MetricsInterval: cfg.metricsInterval, LogMaxSizeMB: cfg.logMaxSize, LogBackups: cfg.logBackups,
	})
	if err != nil {
		return err
	}
	m.hub = hub
	m.undo = append(m.undo, func() {
		if err := hub.Close(); err != nil {
			m.log.Error("close insight", "err", err)
		}
	})
	return nil
}

// newForwarder builds the forwarder to the Bucket; it reports to the hub.
func (m *serveMain) newForwarder(context.Context) error {
	cfg := m.cfg
	creds, err := m.bucketCredentials()
	if err != nil {
		return err
	}
	signer, err := m.bucketSigner()
	if err != nil {
		return err
	}
	m.bucketOpt = bucketClientOptions(creds, signer)
	sender := bucket.NewClient(m.bucketURL, bucketClientOptions(creds, signer, bucket.WithConcurrency(cfg.concurrency+1), bucket.WithTimeout(cfg.timeout),
		bucket.WithTLSConfig(m.tls.bucket))...)
	m.fwd = deliver.New(m.store, sender, m.log.With("component", "deliver"), deliver.Config{
		BatchSize: cfg.batchSize, BatchBytes: int(cfg.batchBytes), Concurrency: cfg.concurrency,
		MaxAttempts: cfg.maxAttempts, MaxAge: cfg.maxAge, Timeout: cfg.timeout,
		BreakerThreshold: cfg.breakerThresh, BreakerCooldown: cfg.breakerCool,
		Owner: cfg.instance, BucketURL: auth.RedactURL(m.bucketURL), StrictOrder: cfg.strictOrder,
		OnOutcome: func(o deliver.Outcome) { m.hub.Delivered(o.Attempt, o.Synced, o.Dead, o.Retried) },
	})
	m.hub.SetDelivery(m.fwd.Status)
	return nil
}

// newJanitor builds the retention janitor.
func (m *serveMain) newJanitor(context.Context) error {
	j, err := maintenance.NewJanitor(m.store, m.log.With("component", "janitor"), maintenance.JanitorConfig{Retention: m.cfg.retention, Lead: m.leading()})
	if err != nil {
		return usageError{fmt.Sprintf("--retention: %v", err)}
	}
	m.janitor = j
	return nil
}

// newReconciler builds the reconciliation with the Bucket (POST
// /api/reconcile, --reconcile-every): its own client, with delivery's
// credentials, so that it does not take delivery's connections.
func (m *serveMain) newReconciler(context.Context) error {
	if m.cfg.reconcileEvery < 0 {
		return usageError{fmt.Sprintf("--reconcile-every must be positive or 0 (off), not %s", m.cfg.reconcileEvery)}
	}
	local, ok := m.store.(bridge.Reconcilable)
	if !ok {
		if m.cfg.reconcileEvery > 0 {
			return usageError{"--reconcile-every: this store cannot be reconciled"}
		}
		return nil
	}
	client := bucket.NewClient(m.bucketURL, append([]bucket.Option{bucket.WithConcurrency(reconcile.DefaultConcurrency),
		bucket.WithTimeout(max(m.cfg.timeout, 2*time.Minute)), bucket.WithTLSConfig(m.tls.bucket)}, m.bucketOpt...)...)
	m.recon = reconcile.NewService(reconcile.ServiceConfig{Local: local, Bucket: client, Every: m.cfg.reconcileEvery,
		Lead: m.leading(), Log: m.log.With("component", "reconcile")})
	return m.hub.RegisterMetrics(m.recon.Collectors()...)
}

// newAPI builds the ingest writer, the dashboard and the HTTP API over them.
func (m *serveMain) newAPI(context.Context) error {
	doc, err := corebridge.OpenAPIJSON()
	if err != nil {
		return err
	}
	var runs func() any
	if m.jobs != nil {
		runs = func() any { return m.runner.Runs() } // the runner is built once the address is known
	}
	m.dash = dashboard.New(dashboard.Config{
		Feed: m.hub.Feed(), Version: buildVersion(), Log: m.log.With("component", "dashboard"),
		Summary:    func(ctx context.Context) (any, error) { return m.hub.Health(ctx), nil },
		MaxClients: m.cfg.maxSSEClients,
		OnRefused:  func(why string) { m.hub.CapRefused(insight.CapSSEClients, why) },
	})
	m.writer = ingest.New(m.store, m.log, ingest.Config{MaxPending: m.cfg.maxPending, Wait: m.cfg.commitWait,
		OnCommit: m.fwd.Notify, Observe: m.hub.Committed, Guard: m.guard})
	srv := api.NewServer(m.store, m.writer, m.hub, m.log, api.Config{
		MaxBody: int64(m.cfg.maxBody), MaxBatchBody: int64(m.cfg.maxBatchBody),
		Version: buildVersion(), OpenAPIJSON: doc, OnReplay: m.fwd.Notify,
		Dashboard:  &api.Dashboard{Page: m.dash.Page(), Assets: m.dash.Assets(), Events: m.dash.Events()},
		Automation: runs,
		Auth:       m.authenticator(), Sessions: m.sessionManager(), RateLimits: m.rateLimits, AllowedHosts: m.cfg.allowedHosts,
		OpenReadyz: m.openReadyz, OpenMetrics: m.openMetric, SignatureTolerance: m.cfg.sigTolerance,
		MaxInflightIngest: m.cfg.maxInflight, Modules: ingest.NewModuleCap(m.store, m.cfg.maxModules),
		DedupeWindow: m.cfg.dedupeWindow, ContentDedupeWindow: contentWindow(m.cfg.contentWindow),
		Reconcile: m.recon, DrillReportFile: api.DrillReportFile(m.cfg.dataDir),
		Registry: m.cfg.registry, // the config file's modules: (checkServeConfig built it)
	})
	m.hub.SetIngestInflight(srv.Inflight)
	m.hs = &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	// Open dashboards' event streams end when shutdown starts, instead of
	// holding it for the whole timeout.
	m.hs.RegisterOnShutdown(m.dash.Close)
	return nil
}

// reserve takes the API's port before anything is created or started
// (the data dir, the store, the embedded Bucket): with the port taken,
// serve fails leaving nothing behind.
func (m *serveMain) reserve(context.Context) error {
	ln, err := net.Listen("tcp", m.cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.cfg.addr, err)
	}
	m.rawLn = ln
	m.undo = append(m.undo, func() { ln.Close() }) // already closed once served
	return nil
}

// checkWritableDir says, in words, that the data dir cannot be written,
// rather than leaving it to SQLite ("unable to open database file (14)"):
// it creates and removes a file there.
func checkWritableDir(dir string) error {
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("data dir %s is not writable by this user (uid %d): %w", dir, os.Getuid(), err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// listen wraps the port reserve took; the automation runner, which talks
// to this bridge over HTTP like any producer, needs its address.
func (m *serveMain) listen(context.Context) error {
	ln := m.rawLn
	m.ln = m.listenTLS(ln)
	if m.jobs != nil {
		m.runner = automation.New(m.jobs, automation.Options{APIURL: m.scheme() + ln.Addr().String(), TLSConfig: m.runnerTLS(),
			ReportsDir: m.cfg.automationReports, DefaultInterval: m.cfg.automationEvery, Token: m.runnerToken, Lead: m.leading(),
			Logger: m.log}) // the runner adds its own component attribute
	}
	return nil
}

// checkDedupeWindows refuses windows that cannot hold: pruning after
// --retention would delete originals that a window still needs, and a
// resend would then be stored again. It refuses rather than clamps, so
// that what runs is what was asked for.
func checkDedupeWindows(cfg *serveConfig) error {
	if cfg.dedupeWindow <= 0 {
		return usageError{fmt.Sprintf("--dedupe-window must be positive, not %s", cfg.dedupeWindow)}
	}
	if cfg.contentWindow < 0 {
		return usageError{fmt.Sprintf("--content-dedupe-window must be positive or 0 (off), not %s", cfg.contentWindow)}
	}
	retention := cfg.retention
	if retention == 0 {
		retention = maintenance.DefaultRetention
	}
	if need := max(cfg.dedupeWindow, cfg.contentWindow); retention > 0 && retention < need {
		return usageError{fmt.Sprintf("--retention %s is shorter than --dedupe-window %s / --content-dedupe-window %s: pruning would delete originals a window still needs; raise --retention or lower the window",
			cfg.retention, cfg.dedupeWindow, cfg.contentWindow)}
	}
	return nil
}

// contentWindow is --content-dedupe-window as api.Config takes it: 0 (off)
// is negative there, where 0 is the default.
func contentWindow(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
