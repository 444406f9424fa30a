package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"corebridge/internal/mock"
)

func runMock(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("mock", "Act as the Core modules: send one realistic update per module every\n"+
		"--interval and print each result. With --load, drive the bridge as hard as\n"+
		"--connections producers can and print throughput and latency percentiles;\n"+
		"its requests carry Corebridge-Load-Test: 1, so the bridge learns no\n"+
		"module rhythm (for silence) from them.", e)
	apiURL := fs.String("api-url", "http://127.0.0.1:8000", "base URL of the bridge's API")
	token := fs.String("token", "", "bearer token sent with every request")
	secretFile := signingSecretFlag(fs)
	modules := fs.String("modules", strings.Join(mock.DefaultModules(), ","), "comma-separated modules that send updates")
	interval := fs.Duration("interval", mock.DefaultInterval, "time between two rounds of updates")
	rounds := fs.Int("rounds", 0, "rounds to send, then exit (0 = until interrupted)")
	load := fs.Bool("load", false, "run the load generator instead of rounds")
	connections := fs.Int("connections", 64, "load: concurrent producers, one keep-alive connection each")
	duration := fs.Duration("duration", 10*time.Second, "load: how long to send (0 = bounded by --requests only)")
	requests := fs.Int("requests", 0, "load: stop after this many requests (0 = bounded by --duration only)")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on each request (0 = none)")
	maxErrPct := fs.Float64("max-error-pct", 1, "load: exit 1 when more than this percentage of requests failed")
	asJSON := fs.Bool("json", false, "load: print the result as one JSON line on stdout (the summary goes to stderr)")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	secret, err := readSigningSecret(*secretFile)
	if err != nil {
		return err
	}
	mods := mockModuleList(*modules)
	if len(mods) == 0 {
		return usageError{"mock: --modules is empty"}
	}
	if err := mock.ValidateModules(mods); err != nil {
		return usageError{"mock: " + err.Error()}
	}

	if !*load {
		if *rounds < 0 || *interval <= 0 {
			return usageError{"mock: --rounds must not be negative and --interval must be positive"}
		}
		return mock.Rounds(ctx, mock.RoundsConfig{
			URL:      *apiURL,
			Token:    *token,
			Secret:   secret,
			Modules:  mods,
			Interval: *interval,
			Rounds:   *rounds,
			Timeout:  *timeout,
		}, e.stdout)
	}

	if !(*maxErrPct >= 0 && *maxErrPct <= 100) {
		return usageError{"mock: --max-error-pct must be between 0 and 100"}
	}
	cfg := mock.LoadConfig{
		URL:         *apiURL,
		Token:       *token,
		Secret:      secret,
		Connections: *connections,
		Duration:    *duration,
		Requests:    *requests,
		Modules:     mods,
		Timeout:     *timeout,
	}
	var summary io.Writer = e.stdout
	if *asJSON {
		summary = e.stderr
	}
	res, err := mock.Load(ctx, cfg, summary)
	if err != nil {
		return usageError{err.Error()}
	}
	if *asJSON {
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("mock: encode result: %w", err)
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
	}
	if pct := res.ErrorPct(); pct > *maxErrPct {
		return fmt.Errorf("mock: %.1f%% of %d requests failed, more than --max-error-pct %g", pct, res.Requests, *maxErrPct)
	}
	return nil
}

// mockModuleList splits the value of --modules, dropping blanks.
func mockModuleList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
