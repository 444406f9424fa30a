package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"corebridge/client"
	"corebridge/internal/auth"

	"corebridge/internal/drill"
)

// runDrill is `corebridge drill`: it proves the guarantees on this
// machine (internal/drill does the work).
func runDrill(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("drill", "Prove the guarantees on this machine: start the reference Bucket and a bridge as\n"+
		"child processes in a scratch directory, send updates from producers, inject\n"+
		"faults in turn (kill -9 of the bridge with batches in flight, the Bucket\n"+
		"stopped, flaky and slow, a full disk when it can mount a tmpfs), time each\n"+
		"recovery, then check that every acknowledged record is held by the Bucket\n"+
		"exactly once and in order. Exit 0 only if nothing was lost, duplicated or\n"+
		"out of order and every fault recovered; 1 otherwise, naming what was lost.", e)
	duration := fs.Duration("duration", 60*time.Second, "how long producers send; the faults are spread over it")
	records := fs.Int("records", 0, "cap on the updates the producers send in all; 0 = as many as --duration allows at a modest rate")
	modules := fs.Int("modules", len(drill.DefaultModules), "modules that send, one producer each")
	report := fs.String("report", "text", "report format: text or json")
	dir := fs.String("dir", "", "scratch directory (must not exist or be empty); default a new temporary one; removed at the end unless --keep")
	keep := fs.Bool("keep", false, "keep the scratch directory (databases, logs) at the end")
	replicas := fs.Int("replicas", 1, "serve processes sharing one PostgreSQL database (--store); producers spread over them")
	store := fs.String("store", "sqlite", "sqlite (each bridge's own database in the scratch directory) or a postgres:// URL shared by the replicas")
	bucketURL := fs.String("bucket-url", "", "a Bucket of your own: the drill does not start or fault it, and cannot check it for lost or duplicated records")
	publish := fs.String("publish", "", "when done, send the report to this bridge (its URL, e.g. http://127.0.0.1:8000), whose dashboard's Proof panel then shows it")
	token := fs.String("token", "", "with --publish: an operator's bearer token for that bridge")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if *report != "text" && *report != "json" {
		return usageError{fmt.Sprintf("drill: --report %q: want text or json", *report)}
	}
	if *duration <= 0 || *records < 0 || *modules < 1 || *replicas < 1 {
		return usageError{"drill: --duration, --modules and --replicas must be positive, --records 0 or more"}
	}
	if *replicas > 1 && !strings.HasPrefix(*store, "postgres") {
		return usageError{"drill: --replicas above 1 needs --store postgres://… (the replicas share one database)"}
	}
	if *bucketURL != "" {
		if err := checkBucketURL(*bucketURL); err != nil {
			return usageError{"drill: --bucket-url: " + err.Error()}
		}
	}
	rep, err := drill.Run(ctx, drill.Options{Duration: *duration, Records: *records, Modules: *modules, Dir: *dir, Keep: *keep,
		Replicas: *replicas, Store: *store, BucketURL: *bucketURL, Progress: e.stderr})
	if err != nil && rep.Run == "" {
		return usageError{"drill: " + err.Error()}
	}
	if *report == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil {
			return werr
		}
	} else if werr := rep.WriteText(e.stdout); werr != nil {
		return werr
	}
	if *publish != "" && !rep.Interrupted {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		perr := client.New(*publish, client.WithToken(*token)).PublishDrill(pctx, rep)
		cancel()
		if perr != nil {
			fmt.Fprintf(e.stderr, "drill: could not publish the report to %s: %v\n", auth.RedactURL(*publish), perr)
		} else {
			fmt.Fprintf(e.stderr, "drill: report published to %s (dashboard: Proof)\n", auth.RedactURL(*publish))
		}
	}
	if err != nil {
		return fmt.Errorf("drill did not complete: %w", err)
	}
	if !rep.Passed {
		return fmt.Errorf("drill FAILED: %s", strings.Join(rep.Problems, "; "))
	}
	return nil
}
