package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"corebridge/internal/auth"
	"corebridge/internal/mock"
)

// runDemo runs everything in one command: the bridge, a reference Bucket
// inside it, and mock producers for the four Core modules.
func runDemo(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("demo", "Run serve with an embedded Bucket and mock producers for the four Core modules, and print where to look.", e)
	cfg := serveFlags(fs)
	fs.Lookup("data-dir").DefValue = "demo-data"
	fs.Lookup("data-dir").Value.Set("demo-data")
	interval := fs.Duration("interval", 2*time.Second, "time between two rounds of mock updates (one per module)")
	modules := fs.String("modules", strings.Join(mock.DefaultModules(), ","), "comma-separated modules that send")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	mods := strings.Split(*modules, ",")
	if err := mock.ValidateModules(mods); err != nil {
		return usageError{err.Error()}
	}
	log, err := newLogger(e.stderr, cfg.logFormat, "warn")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	producers := make(chan error, 1)
	err = serve(ctx, cfg, log, func(apiURL, bucketURL string) {
		fmt.Fprintf(e.stdout, "corebridge demo is running (Ctrl-C to stop)\n"+
			"  dashboard      %s/\n"+
			"  metrics        %s/metrics\n"+
			"  API            %s\n"+
			"  health         %s/core/health\n"+
			"  bucket status  %s/bucket/status\n"+
			"  dead letters   %s/api/dead-letters\n"+
			"  API reference  %s/openapi.json\n"+
			"  Bucket         %s/v1/stats  (records: %s/v1/records)\n"+
			"  data           %s\n"+
			"mock producers (%s) send one update each every %s:\n",
			apiURL, apiURL, apiURL, apiURL, apiURL, apiURL, apiURL, auth.RedactURL(bucketURL), auth.RedactURL(bucketURL), cfg.dataDir, strings.Join(mods, ", "), *interval)
		go func() {
			producers <- mock.Rounds(ctx, mock.RoundsConfig{URL: apiURL, Modules: mods, Interval: *interval, Timeout: 10 * time.Second}, e.stdout)
		}()
	})
	cancel()
	return err
}
