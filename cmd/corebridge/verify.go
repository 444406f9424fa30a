package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
	"corebridge/internal/store/postgres"
	"corebridge/internal/store/sqlite"
)

// errChainBroken is verify's finding: exit 1, after the report.
var errChainBroken = errors.New("the chain is broken")

// runVerify is `corebridge verify`: it walks the store's tamper-evident
// chain (bridge/chain.go) and reports the first break of each module. It
// reads a SQLite store while a serve holds it (as a WAL reader, writing
// nothing), or the PostgreSQL database of --postgres-url.
func runVerify(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("verify", "Check the store's tamper-evident chain: every record against its content hash, its edit history and the record before it. Exit 0 when whole, 1 when broken.", e)
	dataDir := fs.String("data-dir", "data", "the serve's --data-dir (its SQLite store, corebridge.db)")
	pgURL := fs.String("postgres-url", "", "verify this PostgreSQL store instead (the serve's --postgres-url)")
	module := fs.String("module", "", "only this module")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	progress := func(n int64) {}
	if isTerminal(e.stderr) && !*asJSON {
		progress = func(n int64) { fmt.Fprintf(e.stderr, "\rverified %d records…", n) }
	}
	var rep bridge.VerifyReport
	var where string
	var err error
	if *pgURL != "" {
		where = auth.RedactURL(*pgURL)
		st, oerr := postgres.Open(ctx, *pgURL, postgres.Options{MaxConns: 2})
		if oerr != nil {
			return fmt.Errorf("verify: %s: %w", where, oerr)
		}
		defer st.Close()
		rep, err = st.Verify(ctx, *module, progress)
	} else {
		path := filepath.Join(*dataDir, "corebridge.db")
		where = path
		if _, serr := os.Stat(path); serr != nil {
			return usageError{fmt.Sprintf("verify: no store at %s (give the serve's --data-dir or --postgres-url)", path)}
		}
		rep, err = sqlite.VerifyFile(ctx, path, *module, progress)
	}
	if isTerminal(e.stderr) && !*asJSON {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printVerify(e, where, rep)
	}
	if len(rep.Breaks) > 0 {
		return errChainBroken
	}
	return nil
}

func printVerify(e env, where string, rep bridge.VerifyReport) {
	w := e.stdout
	fmt.Fprintf(w, "store:    %s\n", where)
	fmt.Fprintf(w, "checked:  %d records in %d modules\n", rep.Records, rep.Modules)
	var notes []string
	if rep.Edited > 0 {
		notes = append(notes, fmt.Sprintf("%d edited by an operator (their edit history followed)", rep.Edited))
	}
	if rep.Skips > 0 {
		notes = append(notes, fmt.Sprintf("%d pruned or purged runs stepped over", rep.Skips))
	}
	if rep.Unchained > 0 {
		notes = append(notes, fmt.Sprintf("%d accepted before the chain existed (not checked)", rep.Unchained))
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "notes:    %s\n", strings.Join(notes, "; "))
	}
	if len(rep.Breaks) == 0 {
		fmt.Fprintln(w, "verdict:  the chain is whole: no record was changed or deleted behind corebridge's back")
		return
	}
	fmt.Fprintf(w, "verdict:  BROKEN in %d module(s):\n", len(rep.Breaks))
	for _, b := range rep.Breaks {
		fmt.Fprintf(w, "  %s: %s\n", b.Module, b.Reason)
	}
}
