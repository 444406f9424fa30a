package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"corebridge/internal/bridge"
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
		{"config", "check a serve config file and print the effective configuration (config check)", runConfig},
		{"bucket", "run the reference central Bucket server", runBucket},
		{"mock", "mock Core modules; --load runs the load generator", runMock},
		{"automate", "run the scheduled jobs of automation/config.json (--once or --watch)", runAutomate},
		{"ceiling", "benchmark-only server that decodes updates and stores nothing", runCeiling},
		{"status", "one screen on a running bridge's health; exit 0 ok, 1 degraded, 2 down or unreachable", runStatus},
		{"dlq", "list, replay or purge dead letters of a running bridge", runDLQ},
		{"reconcile", "compare what a running bridge delivered with what its Bucket holds (--repair requeues what is missing)", runReconcile},
		{"migrate", "move the queue from SQLite to PostgreSQL (migrate --from sqlite:PATH --to postgres://…)", runMigrate},
		{"verify", "check the store's tamper-evident chain (a row changed or deleted behind corebridge's back)", runVerify},
		{"backup", "copy the SQLite store consistently while serve runs (backup --to DIR)", runBackup},
		{"restore", "put a backup in place as a data directory's store, serve stopped (restore --from DIR)", runRestore},
		{"token", "issue tokens for --auth-file (token new)", runToken},
		{"demo", "serve + embedded Bucket + mock producers in one command", runDemo},
		{"drill", "prove the guarantees here: faults, recovery times, lost/duplicated/out of order", runDrill},
		{"version", "print the version", runVersion},
		{"help", "show this list, or a command's flags (help serve, help dlq purge)", nil},
	}
}

// run is the whole program; main only gives it the process's context,
// arguments, environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) < 2 {
		usage(stderr)
		return usageError{"no command given; see corebridge help"}
	}
	name, rest := args[1], args[2:]
	switch name {
	case "-h", "--help", "-help":
		usage(stdout)
		return nil
	case "help":
		// help CMD [SUB] is CMD [SUB] --help.
		if len(rest) == 0 {
			usage(stdout)
			return nil
		}
		name, rest = rest[0], append(append([]string(nil), rest[1:]...), "--help")
		if name == "help" {
			usage(stdout)
			return nil
		}
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			err := c.run(ctx, rest, e)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	return usageError{fmt.Sprintf("unknown command %q; see corebridge help", name)}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: corebridge <command> [flags]\n\nCommands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'corebridge help <command>' or 'corebridge <command> --help' for its flags.\n"+
		"Flags can also be set by environment variables (each command's --help names\n"+
		"them): serve's flags and those that mean the same in every command (--api-url,\n"+
		"--token, --signing-secret-file, --log-format, --log-level) read COREBRIDGE_<FLAG>,\n"+
		"e.g. COREBRIDGE_DATA_DIR for --data-dir; the others COREBRIDGE_<COMMAND>_<FLAG>,\n"+
		"e.g. COREBRIDGE_MOCK_INTERVAL. The command line wins over the environment.")
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

// newFlagSet returns a flag set for a subcommand whose usage (on stdout,
// for --help) lists every flag with its environment variable. Parse
// errors print nothing: parseFlags returns them as one line.
func newFlagSet(name, summary string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := e.stdout
	if out == nil {
		out = io.Discard
	}
	fs.Usage = func() {
		w := out
		fmt.Fprintf(w, "Usage: corebridge %s [flags]\n\n%s\n\nFlags (environment variable in brackets):\n", name, summary)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			ev := envName(name, f.Name)
			if ev == "" {
				ev = "command line only"
			}
			fmt.Fprintf(w, "  --%s  [%s]\n        %s%s\n", f.Name, ev, f.Usage, def)
		})
	}
	return fs
}

// source is where a flag's value came from.
type source struct {
	kind  string // "flag", "env", "file" or "default"
	where string // the variable (env) or file:line (file)
}

func (s source) String() string {
	if s.where == "" {
		return s.kind
	}
	return s.kind + " " + s.where
}

// parseFlags parses args, then fills every flag not given on the command
// line from its environment variable. The command line wins.
func parseFlags(fs *flag.FlagSet, args []string, e env) error {
	_, err := parseSources(fs, args, e)
	return err
}

// parseSources is parseFlags that also says where each flag set came from
// (flag or env; the others are absent).
func parseSources(fs *flag.FlagSet, args []string, e env) (map[string]source, error) {
	help := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = help
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			help()
			return nil, err
		}
		return nil, usageError{fmt.Sprintf("%s: %s; see corebridge %s --help", fs.Name(), flagErrorText(fs, err), fs.Name())}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("%s: unexpected argument %q; see corebridge %s --help", fs.Name(), fs.Arg(0), fs.Name())}
	}
	srcs := map[string]source{}
	fs.Visit(func(f *flag.Flag) { srcs[f.Name] = source{kind: "flag"} })
	getenv := e.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var perr error
	fs.VisitAll(func(f *flag.Flag) {
		if _, set := srcs[f.Name]; set || perr != nil {
			return
		}
		name := envName(fs.Name(), f.Name)
		if name == "" {
			return
		}
		if v := getenv(name); v != "" {
			if serr := f.Value.Set(v); serr != nil {
				perr = usageError{fmt.Sprintf("%s: %s=%q: %s", fs.Name(), name, v, wantsText(f, serr))}
				return
			}
			srcs[f.Name] = source{kind: "env", where: name}
		}
	})
	return srcs, perr
}

var (
	invalidValueRE = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-([^:]+): (.*)$`)
	undefinedRE    = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	needsArgRE     = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
)

// flagErrorText rewrites the flag package's parse errors the way the rest
// of corebridge speaks: --flag, and what the flag wants.
func flagErrorText(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if m := undefinedRE.FindStringSubmatch(msg); m != nil {
		return "unknown flag --" + m[1]
	}
	if m := needsArgRE.FindStringSubmatch(msg); m != nil {
		if f := fs.Lookup(m[1]); f != nil {
			return fmt.Sprintf("--%s needs a value: %s", m[1], wants(f))
		}
		return "--" + m[1] + " needs a value"
	}
	if m := invalidValueRE.FindStringSubmatch(msg); m != nil {
		if f := fs.Lookup(m[2]); f != nil {
			return fmt.Sprintf("--%s %q: %s", m[2], m[1], wantsText(f, errors.New(m[3])))
		}
	}
	return msg
}

// wantsText says what flag f wants after err from its Set: the flag's
// type, and err when it says more than the flag package's "parse error".
func wantsText(f *flag.Flag, err error) string {
	s := fmt.Sprintf("--%s wants %s", f.Name, wants(f))
	if _, builtin := f.Value.(flag.Getter); builtin {
		if strings.Contains(err.Error(), "out of range") {
			s += " (out of range)"
		}
		return s
	}
	return s + ": " + err.Error()
}

// wants describes the values flag f accepts.
func wants(f *flag.Flag) string {
	switch f.Value.(type) {
	case *byteSize:
		return "a size such as 512KiB or 1MiB"
	case *minutes:
		return "minutes or a duration such as 90s"
	case *gapList:
		return "module=duration pairs such as finance=10m,robotics=1h"
	case minFreeFlag:
		return "a size such as 512MiB or a share such as 5%"
	case *bridge.StrictOrder:
		return "all, none or a list of modules such as finance,robotics"
	case *headerFlag:
		return "a header such as 'Name: value'"
	case *listFlag, *moduleList:
		return "a comma-separated list"
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool:
			return "true or false"
		case int, int64, uint, uint64:
			return "an integer"
		case float64:
			return "a number"
		case time.Duration:
			return "a duration such as 30s"
		case string:
			return "a string"
		}
	}
	return "another value"
}

// sharedEnvFlags are the flags that mean the same in every command that
// talks to a running bridge: their variable is COREBRIDGE_<FLAG> there.
var sharedEnvFlags = map[string]bool{
	"api-url":             true,
	"token":               true,
	"signing-secret-file": true,
	"log-format":          true,
	"log-level":           true,
}

// noEnvFlags are never read from the environment: selectors that would
// replay or delete every dead letter of whoever runs the command, and the
// confirmation of an irreversible purge.
var noEnvFlags = map[string]bool{
	"dlq replay ids": true, "dlq replay module": true, "dlq replay all": true,
	"dlq purge ids": true, "dlq purge module": true, "dlq purge all": true, "dlq purge yes": true,
}

// serveFlagNames is the set of serve's flags.
var serveFlagNames = sync.OnceValue(func() map[string]bool {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	serveFlags(fs)
	out := map[string]bool{"config": true}
	fs.VisitAll(func(f *flag.Flag) { out[f.Name] = true })
	return out
})

// envName is the environment variable of a command's flag ("" for none),
// so that one name means one thing everywhere:
//
//   - serve's flags (and config check's, which are serve's) read
//     COREBRIDGE_<FLAG>, as do demo's serve flags and verify's --data-dir
//     and --postgres-url, which name serve's store;
//   - the flags of sharedEnvFlags read COREBRIDGE_<FLAG> in every command
//     but the servers that are not the bridge (bucket, ceiling);
//   - every other flag reads COREBRIDGE_<COMMAND>_<FLAG>, the command with
//     its subcommand (COREBRIDGE_MOCK_INTERVAL, COREBRIDGE_DLQ_LIST_LIMIT,
//     COREBRIDGE_BUCKET_ADDR);
//   - noEnvFlags read none.
func envName(command, flagName string) string {
	if noEnvFlags[command+" "+flagName] {
		return ""
	}
	bare := "COREBRIDGE_" + envWord(flagName)
	switch command {
	case "serve", "config check":
		return bare
	case "demo":
		if serveFlagNames()[flagName] {
			return bare
		}
	case "verify":
		if flagName == "data-dir" || flagName == "postgres-url" {
			return bare
		}
	case "bucket", "ceiling":
		return "COREBRIDGE_" + envWord(command) + "_" + envWord(flagName)
	}
	if sharedEnvFlags[flagName] {
		return bare
	}
	return "COREBRIDGE_" + envWord(command) + "_" + envWord(flagName)
}

// envWord is a flag or command name as part of a variable's name.
func envWord(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_", " ", "_").Replace(s))
}
