package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/automation"
)

// commandPaths are every command and subcommand that takes flags.
func commandPaths() [][]string {
	var out [][]string
	for _, c := range commands() {
		switch c.name {
		case "help":
		case "dlq":
			for _, s := range dlqSubcommands {
				out = append(out, []string{"dlq", s.name})
			}
		case "token":
			out = append(out, []string{"token", "new"})
		case "config":
			out = append(out, []string{"config", "check"})
		default:
			out = append(out, []string{c.name})
		}
	}
	return out
}

// TestHelp: --help and -h print the usage on stdout and exit 0, for every
// command and subcommand; `corebridge help CMD` is `CMD --help`.
func TestHelp(t *testing.T) {
	for _, p := range commandPaths() {
		name := strings.Join(p, " ")
		var first string
		for _, h := range []string{"--help", "-h", "-help"} {
			out, errOut, err := configRun(t, nil, append(append([]string(nil), p...), h)...)
			if err != nil || errOut != "" || !strings.HasPrefix(out, "Usage: corebridge "+name) || !strings.Contains(out, "Flags (environment variable in brackets):") {
				t.Errorf("%s %s: %v, stderr %q, stdout:\n%s", name, h, err, errOut, out)
			}
			if first == "" {
				first = out
			}
		}
		out, _, err := configRun(t, nil, append([]string{"help"}, p...)...)
		if err != nil || out != first {
			t.Errorf("help %s: %v; differs from %s --help:\n%s", name, err, name, out)
		}
	}
	// The commands with subcommands list them on --help, and on help.
	for _, c := range []string{"dlq", "token", "config"} {
		for _, args := range [][]string{{c, "--help"}, {c, "-h"}, {"help", c}} {
			out, errOut, err := configRun(t, nil, args...)
			if err != nil || errOut != "" || !strings.HasPrefix(out, "Usage: corebridge "+c) {
				t.Errorf("%v: %v, stderr %q, stdout:\n%s", args, err, errOut, out)
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		out, _, err := configRun(t, nil, args...)
		if err != nil || !strings.Contains(out, "  config ") || !strings.Contains(out, "  serve ") || !strings.Contains(out, "  help ") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
	// Each dlq subcommand says what it does; purge that it is irreversible.
	seen := map[string]bool{}
	for _, s := range dlqSubcommands {
		out, _, _ := configRun(t, nil, "dlq", s.name, "--help")
		desc := strings.SplitN(out, "\n\n", 3)[1]
		if seen[desc] {
			t.Errorf("dlq %s --help has the description of another subcommand:\n%s", s.name, desc)
		}
		seen[desc] = true
	}
	if out, _, _ := configRun(t, nil, "dlq", "purge", "--help"); !strings.Contains(out, "irreversible") || !strings.Contains(out, "--yes") {
		t.Errorf("dlq purge --help does not say it is irreversible, or name --yes:\n%s", out)
	}
	// Mistakes: exit 2.
	for _, args := range [][]string{{}, {"nope"}, {"help", "nope"}, {"dlq"}, {"dlq", "nope"}, {"token", "old"}, {"config"}, {"config", "show"}} {
		if _, _, err := configRun(t, nil, args...); exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want exit 2", args, err, exitCode(err))
		}
	}
}

// TestUnknownFlag: an unknown flag is one line naming it, with the hint,
// exit 2; nothing else is printed.
func TestUnknownFlag(t *testing.T) {
	for _, p := range commandPaths() {
		name := strings.Join(p, " ")
		out, errOut, err := configRun(t, nil, append(append([]string(nil), p...), "--bogus")...)
		want := name + ": unknown flag --bogus; see corebridge " + name + " --help"
		if exitCode(err) != 2 || err.Error() != want || out != "" || errOut != "" {
			t.Errorf("%s --bogus: %v (exit %d), want %q; stdout %q, stderr %q", name, err, exitCode(err), want, out, errOut)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--max-attempts", "many"}, `serve: --max-attempts "many": --max-attempts wants an integer; see corebridge serve --help`},
		{[]string{"mock", "--interval", "30"}, `mock: --interval "30": --interval wants a duration such as 30s; see corebridge mock --help`},
		{[]string{"mock", "--load=maybe"}, `mock: --load "maybe": --load wants true or false; see corebridge mock --help`},
		{[]string{"serve", "--addr"}, `serve: --addr needs a value: a string; see corebridge serve --help`},
		{[]string{"serve", "extra"}, `serve: unexpected argument "extra"; see corebridge serve --help`},
	} {
		_, _, err := configRun(t, nil, tc.args...)
		if exitCode(err) != 2 || err.Error() != tc.want {
			t.Errorf("%v: %v (exit %d), want %q", tc.args, err, exitCode(err), tc.want)
		}
	}
}

// helpEnv maps each flag of a command's --help to its variable.
var helpFlagRE = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)  \[([^\]]+)\]$`)

// TestEnvNames: one variable means one thing: a name two commands read is
// the same flag; the variables of commands that would break each other
// (COREBRIDGE_INTERVAL) or do harm (COREBRIDGE_ALL) are gone.
func TestEnvNames(t *testing.T) {
	users := map[string][]string{} // variable → "command --flag"
	for _, p := range commandPaths() {
		name := strings.Join(p, " ")
		out, _, err := configRun(t, nil, append(append([]string(nil), p...), "--help")...)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range helpFlagRE.FindAllStringSubmatch(out, -1) {
			flagName, v := m[1], m[2]
			if v == "command line only" {
				continue
			}
			if v != envName(name, flagName) || !strings.HasPrefix(v, "COREBRIDGE_") {
				t.Errorf("%s --%s: help says %s, envName %s", name, flagName, v, envName(name, flagName))
			}
			users[v] = append(users[v], name+" --"+flagName)
		}
	}
	// The one variable read by two flags of other names: both are where
	// a Bucket listens (serve's embedded one, and the bucket command).
	sameThing := map[string]bool{"COREBRIDGE_BUCKET_ADDR": true}
	for v, us := range users {
		flags := map[string]bool{}
		for _, u := range us {
			flags[u[strings.Index(u, " --")+3:]] = true
		}
		if len(flags) > 1 && !sameThing[v] {
			t.Errorf("%s is read by different flags: %v", v, us)
		}
	}
	for _, want := range []string{"COREBRIDGE_MOCK_INTERVAL", "COREBRIDGE_DEMO_INTERVAL", "COREBRIDGE_AUTOMATE_INTERVAL", "COREBRIDGE_AUTOMATE_CONFIG",
		"COREBRIDGE_CONFIG", "COREBRIDGE_DATA_DIR", "COREBRIDGE_TOKEN", "COREBRIDGE_API_URL", "COREBRIDGE_DLQ_LIST_LIMIT", "COREBRIDGE_TOKEN_NEW_ROLE",
		"COREBRIDGE_BUCKET_DATA_DIR", "COREBRIDGE_DRILL_BUCKET_URL"} {
		if len(users[want]) == 0 {
			t.Errorf("no flag reads %s", want)
		}
	}
	for _, gone := range []string{"COREBRIDGE_INTERVAL", "COREBRIDGE_ALL", "COREBRIDGE_IDS", "COREBRIDGE_MODULE", "COREBRIDGE_MODULES", "COREBRIDGE_YES",
		"COREBRIDGE_DLQ_PURGE_ALL", "COREBRIDGE_DLQ_PURGE_IDS", "COREBRIDGE_DLQ_PURGE_MODULE", "COREBRIDGE_DLQ_REPLAY_ALL", "COREBRIDGE_DLQ_PURGE_YES"} {
		if len(users[gone]) > 0 {
			t.Errorf("%s is still read, by %v", gone, users[gone])
		}
	}
	if t.Failed() {
		var names []string
		for v := range users {
			names = append(names, v)
		}
		sort.Strings(names)
		t.Logf("variables: %v", names)
	}

	// automate's COREBRIDGE_AUTOMATE_INTERVAL=30 (minutes) no longer
	// reaches mock and demo: they get past their flags.
	environ := map[string]string{"COREBRIDGE_INTERVAL": "30", "COREBRIDGE_AUTOMATE_INTERVAL": "30"}
	if _, _, err := configRun(t, environ, "mock", "--modules", ","); err == nil || !strings.Contains(err.Error(), "--modules is empty") {
		t.Errorf("mock with COREBRIDGE_INTERVAL=30: %v, want to get past the flags", err)
	}
	if _, _, err := configRun(t, environ, "demo", "--modules", "no spaces"); exitCode(err) != 2 || strings.Contains(err.Error(), "INTERVAL") {
		t.Errorf("demo with COREBRIDGE_INTERVAL=30: %v, want to get past the flags", err)
	}
	// A bad value names the command, the variable, the flag and the type.
	_, _, err := configRun(t, map[string]string{"COREBRIDGE_MOCK_INTERVAL": "30"}, "mock")
	if want := `mock: COREBRIDGE_MOCK_INTERVAL="30": --interval wants a duration such as 30s`; exitCode(err) != 2 || err.Error() != want {
		t.Errorf("COREBRIDGE_MOCK_INTERVAL=30: %v, want %q", err, want)
	}
	// Selectors of replay and purge are never read from the environment.
	environ = map[string]string{"COREBRIDGE_ALL": "true", "COREBRIDGE_DLQ_PURGE_ALL": "true", "COREBRIDGE_DLQ_REPLAY_ALL": "true",
		"COREBRIDGE_MODULE": "finance", "COREBRIDGE_IDS": "a", "COREBRIDGE_YES": "true", "COREBRIDGE_DLQ_PURGE_YES": "true"}
	for _, sub := range []string{"purge", "replay"} {
		_, _, err := configRun(t, environ, "dlq", sub, "--api-url", "http://127.0.0.1:1")
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "exactly one of --ids, --module or --all") {
			t.Errorf("dlq %s with selectors in the environment: %v, want a usage error asking for one", sub, err)
		}
	}
}

// fakeDLQBridge answers /api/modules with dead counts and records purges.
func fakeDLQBridge(t *testing.T, purged *atomic.Int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/modules":
			io.WriteString(w, `{"modules":[{"module":"finance","dead":3},{"module":"robotics","dead":2}]}`)
		case "/api/dead-letters/purge":
			var sel map[string]any
			json.NewDecoder(r.Body).Decode(&sel)
			n := 3
			if sel["all"] == true {
				n = 5
			}
			purged.Add(int64(n))
			json.NewEncoder(w).Encode(map[string]int{"purged": n})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestDLQPurgeConfirm: purge needs --yes off a terminal, and on one the
// number of records (or yes) typed back.
func TestDLQPurgeConfirm(t *testing.T) {
	var purged atomic.Int64
	base := fakeDLQBridge(t, &purged)
	purge := func(stdin string, args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"corebridge", "dlq", "purge", "--api-url", base}, args...),
			func(string) string { return "" }, strings.NewReader(stdin), &out, &errOut)
		return out.String(), errOut.String(), err
	}
	// Not a terminal: --yes or nothing.
	if _, _, err := purge("5\n", "--all"); exitCode(err) != 2 || !strings.Contains(err.Error(), "--yes") || !strings.Contains(err.Error(), "irreversible") || purged.Load() != 0 {
		t.Fatalf("purge off a terminal without --yes: %v (purged %d)", err, purged.Load())
	}
	if out, _, err := purge("", "--all", "--yes"); err != nil || out != "purged 5 dead letters\n" || purged.Swap(0) != 5 {
		t.Fatalf("purge --yes: %v %q", err, out)
	}

	old := stdinIsTerminal
	stdinIsTerminal = func(io.Reader) bool { return true }
	t.Cleanup(func() { stdinIsTerminal = old })
	for _, tc := range []struct {
		answer string
		args   []string
		ok     bool
	}{
		{"3\n", []string{"--module", "finance"}, true},
		{"yes\n", []string{"--module", "finance"}, true},
		{"YES\n", []string{"--all"}, true},
		{"5\n", []string{"--all"}, true},
		{"3\n", []string{"--all"}, false},
		{"no\n", []string{"--module", "finance"}, false},
		{"", []string{"--module", "finance"}, false},
		{"y\n", []string{"--all"}, false},
	} {
		out, errOut, err := purge(tc.answer, tc.args...)
		n := purged.Swap(0)
		if !strings.Contains(errOut, "cannot be undone") {
			t.Errorf("%q %v: the prompt does not warn: %q", tc.answer, tc.args, errOut)
		}
		if tc.ok && (err != nil || n == 0 || !strings.HasPrefix(out, "purged ")) {
			t.Errorf("%q %v: %v, purged %d, %q; want a purge", tc.answer, tc.args, err, n, out)
		}
		if !tc.ok && (err == nil || n != 0 || !strings.Contains(err.Error(), "nothing was purged")) {
			t.Errorf("%q %v: %v, purged %d; want no purge", tc.answer, tc.args, err, n)
		}
	}
	if _, errOut, _ := purge("5\n", "--all"); !strings.Contains(errOut, "5 dead letters of every module") {
		t.Errorf("the prompt does not say how many: %q", errOut)
	}
}

// TestAutomatePlurals: one action is "1 action".
func TestAutomatePlurals(t *testing.T) {
	var b bytes.Buffer
	printReport(&b, automation.Report{Jobs: []automation.JobResult{
		{RunRecord: automation.RunRecord{Job: "a", Status: automation.StatusOK, Duration: time.Millisecond}, Actions: make([]automation.ActionResult, 1)},
		{RunRecord: automation.RunRecord{Job: "b", Status: automation.StatusOK}, Actions: make([]automation.ActionResult, 2)},
	}})
	if !strings.Contains(b.String(), "[a] ok: 1 action in") || !strings.Contains(b.String(), "[b] ok: 2 actions in") {
		t.Errorf("report:\n%s", b.String())
	}
}

// TestAutomateNextDue: interval jobs are next due an interval after their
// last run (state.json) or the start; cron jobs on their expression.
func TestAutomateNextDue(t *testing.T) {
	cfg, err := automation.Parse([]byte(`{"jobs": [
		{"name": "a", "trigger": {"type": "intervalMinutes", "value": 30}, "actions": [{"type": "check_health"}]},
		{"name": "b", "trigger": {"type": "cron", "value": "0 12 * * *", "timezone": "UTC"}, "actions": [{"type": "check_health"}]},
		{"name": "c", "trigger": {"type": "onStartup"}, "actions": [{"type": "check_health"}]},
		{"name": "d", "actions": [{"type": "check_health"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	last := time.Date(2026, 12, 8, 9, 10, 0, 0, time.UTC)
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"jobs":{"a":{"last_run":"`+last.Format(time.RFC3339)+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	nd := newNextDue(cfg, 2*time.Hour, dir, start)
	var b bytes.Buffer
	nd.printAll(&b, start)
	for _, want := range []string{
		"watching 4 jobs; next due:",
		"[a] " + time.Date(2026, 12, 8, 10, 10, 0, 0, time.UTC).Local().Format("2006-01-02 15:04:05 MST") + " (every 30m0s)",
		"[b] 2026-12-08 12:00:00 UTC (cron 0 12 * * *)",
		"[c] at start only",
		"[d] " + start.Add(2*time.Hour).Local().Format("2006-01-02 15:04:05 MST") + " (every 2h0m0s)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
}
