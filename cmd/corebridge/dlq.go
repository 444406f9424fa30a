package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mattn/go-isatty"

	"corebridge/client"
)

// dlqSubcommands are the subcommands of dlq and what each one's --help says.
var dlqSubcommands = []struct{ name, summary, help string }{
	{"list", "show dead letters with their reason and attempts (since the last replay, and in all)",
		"Show the dead letters of a running bridge: seq, id, module, attempts since the\n" +
			"last replay (what --max-attempts counts) and in all, when it was received and\n" +
			"why it went dead. Pages with --after; --json prints one JSON object a line."},
	{"replay", "put dead letters back at their module's head (--ids, --module or --all)",
		"Put dead letters back at the head of their module's queue, to be delivered\n" +
			"again (their attempts since the last replay start from 0). Give exactly one\n" +
			"of --ids, --module or --all; these are never read from the environment."},
	{"purge", "delete dead letters for good (--ids, --module or --all; asks first)",
		"Delete dead letters for good. This is irreversible: the records are gone from\n" +
			"the bridge and were never delivered. Give exactly one of --ids, --module or\n" +
			"--all (never read from the environment). On a terminal it asks you to type\n" +
			"the number of records or \"yes\"; otherwise (a script, a pipe) it needs --yes."},
}

// stdinIsTerminal says whether r is a terminal someone can answer on; a
// variable so that tests can pretend.
var stdinIsTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) // not /dev/null, a character device too
}

// runDLQ is `corebridge dlq list|replay|purge`: the dead letters of a
// running bridge, through its API.
func runDLQ(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		w := e.stdout
		if len(args) == 0 {
			w = e.stderr
		}
		fmt.Fprintln(w, "Usage: corebridge dlq list|replay|purge [flags]")
		fmt.Fprintln(w)
		for _, s := range dlqSubcommands {
			fmt.Fprintf(w, "  %-7s %s\n", s.name, s.summary)
		}
		fmt.Fprintln(w, "\nRun 'corebridge dlq <subcommand> --help' for its flags.")
		if len(args) == 0 {
			return usageError{"dlq: no subcommand given (list, replay, purge); see corebridge dlq --help"}
		}
		return nil
	}
	sub, args := args[0], args[1:]
	help := ""
	for _, s := range dlqSubcommands {
		if s.name == sub {
			help = s.help
		}
	}
	if help == "" {
		return usageError{fmt.Sprintf("dlq: unknown subcommand %q (list, replay, purge); see corebridge dlq --help", sub)}
	}
	fs := newFlagSet("dlq "+sub, help, e)
	apiURL := fs.String("api-url", "http://127.0.0.1:8000", "URL of the bridge's API")
	token := fs.String("token", "", "bearer token for the API")
	secretFile := signingSecretFlag(fs)
	var module, ids *string
	var all, asJSON, yes *bool
	var lim *int
	switch sub {
	case "list":
		module = fs.String("module", "", "only this module's dead letters")
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
	default: // replay, purge
		module = fs.String("module", "", "every dead letter of this module")
		ids = fs.String("ids", "", "comma-separated record ids")
		all = fs.Bool("all", false, "every dead letter")
		if sub == "purge" {
			yes = fs.Bool("yes", false, "do not ask for confirmation (needed when stdin is not a terminal)")
		}
		if err := parseFlags(fs, args, e); err != nil {
			return err
		}
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
	if sub == "purge" && !*yes && !stdinIsTerminal(e.stdin) {
		return usageError{"dlq purge: deleting dead letters is irreversible and stdin is not a terminal to confirm on: add --yes"}
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
		if !*yes {
			ok, err := confirmPurge(ctx, c, sel, e)
			if err != nil || !ok {
				return err
			}
		}
		done, err := c.Purge(ctx, sel)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "purged %s\n", plural(done, "dead letter", "dead letters"))
		return nil
	}
	done, err := c.Replay(ctx, sel)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "replayed %s\n", plural(done, "dead letter", "dead letters"))
	return nil
}

// confirmPurge asks on the terminal before a purge: the answer must be the
// number of dead letters it deletes, or "yes". false: not confirmed, and
// it said so.
func confirmPurge(ctx context.Context, c *client.Client, sel client.Selector, e env) (bool, error) {
	n := int64(len(sel.IDs))
	what := plural(int(n), "dead letter", "dead letters") + " (by id)"
	if len(sel.IDs) == 0 {
		mods, err := c.Modules(ctx)
		if err != nil {
			return false, fmt.Errorf("dlq purge: counting the dead letters to confirm: %w", err)
		}
		for _, m := range mods {
			if sel.All || m.Module == sel.Module {
				n += m.Dead
			}
		}
		what = plural(int(n), "dead letter", "dead letters")
		if sel.Module != "" {
			what += " of module " + sel.Module
		} else {
			what += " of every module"
		}
		if n == 0 {
			fmt.Fprintln(e.stdout, "no dead letters to purge")
			return false, nil
		}
	}
	fmt.Fprintf(e.stderr, "This deletes %s for good; it cannot be undone.\nType %d or yes to purge: ", what, n)
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(e.stderr)
		return false, fmt.Errorf("dlq purge: not confirmed; nothing was purged")
	}
	answer := strings.TrimSpace(line)
	if got, err := strconv.ParseInt(answer, 10, 64); (err == nil && got == n) || strings.EqualFold(answer, "yes") {
		return true, nil
	}
	return false, fmt.Errorf("dlq purge: not confirmed (%q); nothing was purged", answer)
}

// plural is "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
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
