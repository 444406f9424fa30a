package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"corebridge/client"
)

// runDLQ is `corebridge dlq list|replay|purge`: the dead letters of a
// running bridge, through its API.
func runDLQ(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, "Usage: corebridge dlq list|replay|purge [flags]\n\n"+
			"  list    show dead letters with their reason and attempts (since the last replay, and in all)\n"+
			"  replay  put dead letters back at their module's head (--ids, --module or --all)\n"+
			"  purge   delete dead letters for good (--ids, --module or --all)\n\n"+
			"Run 'corebridge dlq <subcommand> --help' for its flags.")
		if len(args) == 0 {
			return usageError{"dlq: no subcommand given"}
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("dlq "+sub, "Dead letters of a running bridge.", e)
	apiURL := fs.String("api-url", "http://127.0.0.1:8000", "URL of the bridge's API")
	token := fs.String("token", "", "bearer token for the API")
	secretFile := signingSecretFlag(fs)
	module := fs.String("module", "", "only this module's dead letters")
	var ids *string
	var all, asJSON *bool
	var lim *int
	switch sub {
	case "list":
		lim = fs.Int("limit", 50, "how many to show (1-1000)")
		asJSON = fs.Bool("json", false, "print JSON lines instead of a table")
		after := fs.Int64("after", 0, "show those after this seq (paging)")
		if err := parseFlags(fs, args, e); err != nil {
			return err
		}
		secret, err := readSigningSecret(*secretFile)
		if err != nil {
			return err
		}
		c := client.New(*apiURL, client.WithToken(*token), client.WithSigningSecret(secret))
		page, err := c.DeadLetters(ctx, *module, *after, *lim)
		if err != nil {
			return err
		}
		return printDeadLetters(e.stdout, page, *asJSON)
	case "replay", "purge":
		ids = fs.String("ids", "", "comma-separated record ids")
		all = fs.Bool("all", false, "every dead letter")
		if err := parseFlags(fs, args, e); err != nil {
			return err
		}
	default:
		return usageError{fmt.Sprintf("dlq: unknown subcommand %q (list, replay, purge)", sub)}
	}
	sel := client.Selector{Module: *module, All: *all}
	if *ids != "" {
		sel.IDs = strings.Split(*ids, ",")
	}
	n := 0
	for _, set := range []bool{len(sel.IDs) > 0, sel.Module != "", sel.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usageError{fmt.Sprintf("dlq %s: give exactly one of --ids, --module or --all", sub)}
	}
	secret, err := readSigningSecret(*secretFile)
	if err != nil {
		return err
	}
	c := client.New(*apiURL, client.WithToken(*token), client.WithSigningSecret(secret))
	// One request, however many records: the bridge replays or purges a
	// module or all in pages of its own (ingest is not held up, the
	// modules stay in order), and the audit log gets one entry.
	if sub == "purge" {
		done, err := c.Purge(ctx, sel)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "purged %d dead letters\n", done)
		return nil
	}
	done, err := c.Replay(ctx, sel)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "replayed %d dead letters\n", done)
	return nil
}

func printDeadLetters(w io.Writer, page client.DeadLetterPage, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, d := range page.DeadLetters {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	}
	if len(page.DeadLetters) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tID\tMODULE\tATTEMPTS\tHISTORY\tRECEIVED\tREASON")
	for _, d := range page.DeadLetters {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\n", d.Seq, d.ID, d.Module, d.Attempts, d.AttemptsTotal, d.ReceivedAt, d.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "(ATTEMPTS: since the last replay or acceptance, what --max-attempts counts; HISTORY: every attempt, as GET /api/records/{id} lists them)")
	if page.HasMore {
		fmt.Fprintf(w, "(next page: --after %d)\n", page.NextAfter)
	}
	return nil
}
