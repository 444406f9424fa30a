package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"strings"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/automation"
	"corebridge/internal/bridge"
	"corebridge/internal/dashboard"
	"corebridge/internal/deliver"
	"corebridge/internal/ingest"
	"corebridge/internal/insight"
	"corebridge/internal/maintenance"
	"corebridge/internal/registry"
	"corebridge/internal/store/sqlite"
	"corebridge/internal/webhook"
)

// defaultShutdownTimeout is how long serve and bucket wait, by default,
// for what is in flight when they stop.
const defaultShutdownTimeout = 30 * time.Second

type serveConfig struct {
	addr             string
	dataDir          string
	logFormat        string
	logLevel         string
	maxBody          byteSize
	maxBatchBody     byteSize
	maxPending       int64
	maxInflight      int
	maxSSEClients    int
	maxModules       int
	minFreeDisk      ingest.MinFree
	sqliteSync       string
	postgresURL      string
	postgresPool     int
	postgresNoListen bool
	dedupeMemory     byteSize
	shutdownTimeout  time.Duration

	bucketURL     string
	bucketAddr    string
	batchSize     int
	batchBytes    byteSize
	concurrency   int
	maxAttempts   int
	maxAge        time.Duration
	timeout       time.Duration
	staleAfter    time.Duration
	degradedPct   float64
	retention     time.Duration
	dedupeWindow  time.Duration
	contentWindow time.Duration
	instance      string
	breakerCool   time.Duration
	breakerThresh int
	strictOrder   bridge.StrictOrder
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

	authFile       string
	insecureNoAuth bool
	allowedHosts   listFlag
	openProbes     listFlag
	rateLimit      string

	tlsCert, tlsKey, clientCA, bucketCA string
	sigTolerance                        time.Duration

	automation        string
	automationReports string
	automationEvery   time.Duration

	reconcileEvery time.Duration

	bucketTokenFile string
	bucketHeaders   headerFlag
	getenv          func(string) string // for --bucket-header $ENV; nil = os.Getenv

	bucketSigningFile string // --bucket-signing-secret-file

	// modules is the config file's modules: section (nil without one),
	// for the registry of known modules (issue 19).
	modules  []registry.ModuleSpec
	registry *registry.Registry // built from modules by checkServeConfig; nil: every module is known
}

// serveFlags defines serve's flags on fs; demo reuses them.
func serveFlags(fs *flag.FlagSet) *serveConfig {
	cfg := &serveConfig{maxBody: api.DefaultMaxBody, maxBatchBody: api.DefaultMaxBatchBody, batchBytes: deliver.DefaultBatchBytes,
		allowedHosts: listFlag{"localhost", "127.0.0.1", "::1"}, openProbes: listFlag{"readyz"}, minFreeDisk: ingest.DefaultMinFreeDisk,
		dedupeMemory: sqlite.DefaultDedupeMemory}
	host, _ := os.Hostname()
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8000", "address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&cfg.dataDir, "data-dir", "data", "directory for the database (created if missing)")
	fs.StringVar(&cfg.logFormat, "log-format", "auto", "log format: auto (text on a terminal, else JSON), text or json")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Var(&cfg.maxBody, "max-body", "largest /core/update body, in bytes or with KiB/MiB")
	fs.Var(&cfg.maxBatchBody, "max-batch-body", "largest /core/updates body")
	fs.Int64Var(&cfg.maxPending, "max-pending", ingest.DefaultMaxPending, "refuse ingest (503) while this many records wait for delivery; -1 = no bound")
	fs.IntVar(&cfg.maxInflight, "max-inflight-ingest", api.DefaultMaxInflightIngest, "ingest requests served at once; past it 503 with Retry-After, before the body is read; -1 = no bound")
	fs.IntVar(&cfg.maxSSEClients, "max-sse-clients", dashboard.DefaultMaxClients, "dashboard event streams (/api/events) open at once; past it 503 with Retry-After; -1 = no bound")
	fs.IntVar(&cfg.maxModules, "max-modules", ingest.DefaultMaxModules, "distinct module names; an update of a new module past it gets 422 (modules already stored keep working); -1 = no bound")
	fs.Var(minFreeFlag{&cfg.minFreeDisk}, "min-free-disk", "refuse ingest (503) before the disk fills: while free space on --data-dir's filesystem is below this size (512MiB, 1GiB) or share (5%); delivery keeps draining; 0 = off")
	fs.DurationVar(&cfg.commitWait, "commit-wait", 0, "when several requests queue for a commit, wait up to this (e.g. 500us) for more to share its fsync; helps with many producers and delivery on the same cores, hurts with few; 0 = never")
	fs.StringVar(&cfg.postgresURL, "postgres-url", "", "keep the queue in this PostgreSQL database (postgres://user@host:port/db; a password is better in PGPASSWORD or ~/.pgpass) instead of SQLite in --data-dir; several serve replicas may share it")
	fs.IntVar(&cfg.postgresPool, "postgres-pool", 16, "connections to PostgreSQL, per replica (with --postgres-url)")
	fs.BoolVar(&cfg.postgresNoListen, "postgres-no-listen", false, "do not LISTEN for other replicas' records (for a pooler in transaction mode); delivery polls instead")
	fs.StringVar(&cfg.sqliteSync, "sqlite-sync", "FULL", "SQLite synchronous mode: FULL (fsync every commit) or NORMAL (a power loss may lose the last commits)")
	fs.Var(&cfg.dedupeMemory, "dedupe-memory", "memory for the dedupe index (16MiB or more): recent keys and the filters of those on disk; more means fewer disk reads per new key")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "how long shutdown waits for requests and deliveries in flight")
	fs.StringVar(&cfg.bucketURL, "bucket-url", "", "URL of the central Bucket, http(s)://host[:port][/path]; empty runs a reference Bucket inside this process")
	fs.StringVar(&cfg.bucketTokenFile, "bucket-token-file", "", "file holding the token sent to the Bucket as Authorization: Bearer; re-read when it changes")
	fs.StringVar(&cfg.bucketSigningFile, "bucket-signing-secret-file", "", "sign every batch to the Bucket (Standard Webhooks) with the whsec_… secrets in this file, one per line (several while rotating); re-read when it changes")
	fs.Var(&cfg.bucketHeaders, "bucket-header", "header sent to the Bucket, 'Name: value' (value, @file re-read on change, or $ENV); repeatable")
	fs.StringVar(&cfg.bucketAddr, "bucket-addr", "127.0.0.1:0", "listen address of the embedded Bucket (only without --bucket-url)")
	fs.IntVar(&cfg.batchSize, "batch-size", deliver.DefaultBatchSize, "records per delivery batch")
	fs.Var(&cfg.batchBytes, "batch-bytes", "data bytes per delivery batch")
	fs.IntVar(&cfg.concurrency, "delivery-concurrency", deliver.DefaultConcurrency, "batches in flight at once, each of a different module")
	fs.IntVar(&cfg.maxAttempts, "max-attempts", deliver.DefaultMaxAttempts, "dead-letter a record after this many failed attempts")
	fs.DurationVar(&cfg.maxAge, "max-age", deliver.DefaultMaxAge, "dead-letter a failing record older than this")
	fs.DurationVar(&cfg.timeout, "delivery-timeout", deliver.DefaultTimeout, "timeout of one delivery request to the Bucket")
	fs.DurationVar(&cfg.staleAfter, "stale-after", insight.DefaultStaleAfter, "health is degraded while the oldest pending record is older than this, and for this long after records go dead")
	fs.Float64Var(&cfg.degradedPct, "degraded-success-pct", insight.DefaultDegradedSuccessPct, "health is degraded while the 24 h sync success rate (percent) is below this; 0 turns it off")
	fs.DurationVar(&cfg.retention, "retention", maintenance.DefaultRetention, "prune synced records (and attempt history) older than this; at least --dedupe-window")
	fs.DurationVar(&cfg.dedupeWindow, "dedupe-window", ingest.DefaultDedupeWindow, "an Idempotency-Key (or idempotency_key, or signed webhook-id) resent within this answers the original record; after it, it is a new record")
	fs.DurationVar(&cfg.contentWindow, "content-dedupe-window", ingest.DefaultContentDedupeWindow, "an update without a key repeating the module, session_id and data of one accepted within this is a duplicate (a retry); 0 = off: every such update is stored")
	fs.StringVar(&cfg.instance, "instance", host, "name of this instance: owner of its delivery leases, stable across restarts; unique per replica with --postgres-url (default there: host:port of --addr)")
	fs.DurationVar(&cfg.breakerCool, "breaker-cooldown", deliver.DefaultBreakerCooldown, "while the circuit breaker is open, probe the Bucket this often")
	fs.IntVar(&cfg.breakerThresh, "breaker-threshold", deliver.DefaultBreakerThreshold, "consecutive failed deliveries (across all workers) that open the circuit breaker; a /healthz check without answer opens it at once")
	_ = cfg.strictOrder.Set(deliver.DefaultStrictOrder)
	fs.Var(&cfg.strictOrder, "strict-order", "modules a dead record blocks until it is replayed or purged: all, or a list like finance,robotics; empty = none (later records pass a dead one)")
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
	fs.StringVar(&cfg.authFile, "auth-file", "", "tokens who may send and operate (YAML or JSON, hashes only; make one with corebridge token new); required off loopback")
	fs.BoolVar(&cfg.insecureNoAuth, "insecure-no-auth", false, "serve a non-loopback address with no authentication: anyone who reaches the port may send and purge (do not)")
	fs.Var(&cfg.allowedHosts, "allowed-hosts", "host names this server answers for in the Host header, comma-separated (* = any); others get 421")
	fs.StringVar(&cfg.rateLimit, "rate-limit", "", "records/s each token may send, as [KEY=]RATE[/BURST] comma-separated; KEY is a token name, a role or * (e.g. producer=500/1000,edu-lab-1=50); 429 past it; empty = none")
	fs.DurationVar(&cfg.sigTolerance, "signature-tolerance", webhook.DefaultTolerance, "how far a signed request's webhook-timestamp may be from the server's clock, either way (tokens with signing keys)")
	fs.Var(&cfg.openProbes, "open-probes", "probes open without a token: readyz, metrics, both (readyz,metrics) or none")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key); reloaded on SIGHUP")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	fs.StringVar(&cfg.clientCA, "client-ca", "", "accept client certificates issued by these CAs (PEM); one whose CommonName is a token's name acts as that token")
	fs.StringVar(&cfg.bucketCA, "bucket-ca", "", "trust these CAs (PEM) for an https --bucket-url, instead of the system's")
	fs.StringVar(&cfg.automation, "automation", "", "run the automation jobs of this config (e.g. automation/config.json) inside serve; empty = none")
	fs.StringVar(&cfg.automationReports, "automation-reports", "automation/reports", "where --automation writes its run reports, runner.log and daily_log.txt")
	fs.DurationVar(&cfg.automationEvery, "automation-interval", automation.DefaultInterval, "interval of --automation jobs that set no trigger")
	fs.DurationVar(&cfg.reconcileEvery, "reconcile-every", 0, "compare what was delivered with what the Bucket holds this often (e.g. 1h; on the leader only with --postgres-url), as corebridge reconcile does; health is degraded while records are missing there; 0 = only on demand")
	return cfg
}

func runServe(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("serve", "Run the bridge: accept updates from Core modules, store them durably, deliver them to the Bucket.", e)
	cfg := serveFlags(fs)
	cfg.getenv = e.getenv
	configPath := configFlag(fs)
	if _, err := parseServe(fs, cfg, configPath, args, e); err != nil {
		return err
	}
	if err := checkServeConfig(cfg); err != nil {
		return err
	}
	applyRegistry(cfg)
	log, err := newLogger(e.stderr, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log, nil)
}

// checkServeConfig checks what serve's flags cannot check one by one
// (newServeMain checks the rest).
func checkServeConfig(cfg *serveConfig) error {
	if cfg.dedupeMemory < minDedupeMemory {
		return usageError{"--dedupe-memory must be at least 16MiB"}
	}
	reg, err := registry.New(cfg.modules)
	if err != nil {
		return usageError{"config: modules: " + strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	cfg.registry = reg
	return nil
}

// applyRegistry joins the registry's per-module settings to the flags'
// (a module the command line names keeps the flag's setting). config
// check shows the flags as given, and the modules apart.
func applyRegistry(cfg *serveConfig) {
	cfg.strictOrder = cfg.registry.StrictOrder(cfg.strictOrder)
	cfg.silenceMaxGap = gapList(cfg.registry.SilenceMaxGaps(cfg.silenceMaxGap))
}

// serve runs the bridge until ctx is cancelled. ready, when set, is called
// with the API's and the Bucket's URLs once both answer.
func serve(ctx context.Context, cfg *serveConfig, log *slog.Logger, ready func(apiURL, bucketURL string)) error {
	m, err := newServeMain(cfg, log)
	if err != nil {
		return err
	}
	defer m.close()
	if err := m.open(ctx); err != nil {
		return err
	}
	return m.run(ctx, ready)
}

// minDedupeMemory is --dedupe-memory's floor: below it runs of keys are
// so small that every new key reads many of them.
const minDedupeMemory = 16 << 20

// minFreeFlag is --min-free-disk: a size or a share of the filesystem.
type minFreeFlag struct{ v *ingest.MinFree }

func (f minFreeFlag) String() string {
	if f.v == nil {
		return ""
	}
	return f.v.String()
}

func (f minFreeFlag) Set(s string) error {
	m, err := ingest.ParseMinFree(s)
	if err != nil {
		return err
	}
	*f.v = m
	return nil
}

// logPath turns "off" (or "none", "-") into "": the file is not written.
func logPath(p string) string {
	switch p {
	case "off", "none", "-":
		return ""
	}
	return p
}
