package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// env is how run reads the environment; tests pass their own.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand: its name, a one-line summary and its entry
// point, which parses its own flags from args.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, e env) error
}

func commands() []command {
	return []command{
		{"serve", "run the bridge: Core-facing API and durable outbox", runServe},
		{"bucket", "run the reference central Bucket server", runBucket},
		{"mock", "mock Core modules; --load runs the load generator", runMock},
		{"automate", "run the scheduled jobs of automation/config.json (--once or --watch)", runAutomate},
		{"ceiling", "benchmark-only server that decodes updates and stores nothing", runCeiling},
		{"dlq", "list, replay or purge dead letters of a running bridge", runDLQ},
		{"reconcile", "compare what a running bridge delivered with what its Bucket holds (--repair requeues what is missing)", runReconcile},
		{"migrate", "move the queue from SQLite to PostgreSQL (migrate --from sqlite:PATH --to postgres://…)", runMigrate},
		{"verify", "check the store's tamper-evident chain (a row changed or deleted behind corebridge's back)", runVerify},
		{"token", "issue tokens for --auth-file (token new)", runToken},
		{"demo", "serve + embedded Bucket + mock producers in one command", runDemo},
		{"drill", "prove the guarantees here: faults, recovery times, lost/duplicated/out of order", runDrill},
		{"version", "print the version", runVersion},
	}
}

// run is the whole program; main only gives it the process's context,
// arguments, environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) < 2 || args[1] == "-h" || args[1] == "--help" || args[1] == "help" {
		usage(stdout)
		if len(args) < 2 {
			return usageError{"no command given"}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[1] {
			err := c.run(ctx, args[2:], e)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	usage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[1])}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: corebridge <command> [flags]\n\nCommands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'corebridge <command> --help' for its flags. Every flag can also be set\nby the environment variable COREBRIDGE_<FLAG>, e.g. COREBRIDGE_DATA_DIR for --data-dir.")
}

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode() // a command's own status (reconcile: 3 for an unsupported Bucket)
	}
	return 1
}

// newFlagSet returns a flag set for a subcommand whose usage lists every
// flag with its environment variable.
func newFlagSet(name, summary string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: corebridge %s [flags]\n\n%s\n\nFlags (environment variable in brackets):\n", name, summary)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s  [%s]\n        %s%s\n", f.Name, envName(name, f.Name), f.Usage, def)
		})
	}
	return fs
}

// parseFlags parses args, then fills every flag not given on the command
// line from its COREBRIDGE_* environment variable. The command line wins.
func parseFlags(fs *flag.FlagSet, args []string, e env) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v := e.getenv(envName(fs.Name(), f.Name)); v != "" {
			if serr := f.Value.Set(v); serr != nil {
				err = usageError{fmt.Sprintf("%s=%q: %v", envName(fs.Name(), f.Name), v, serr)}
			}
		}
	})
	return err
}

// envName is the environment variable of a command's flag: COREBRIDGE_ +
// the flag, shared by the commands that talk to one bridge (serve, mock,
// dlq, demo), so one environment configures them all. The servers that are
// not the bridge (bucket, ceiling) get their own prefix, so that a shared
// COREBRIDGE_ADDR does not make them all listen on one port.
func envName(command, flagName string) string {
	prefix := "COREBRIDGE_"
	switch command {
	case "bucket", "ceiling":
		prefix += strings.ToUpper(command) + "_"
	}
	return prefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}
