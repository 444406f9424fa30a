package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"corebridge/internal/registry"
)

// configRun runs corebridge with args and environ, returning stdout,
// stderr and the error.
func configRun(t *testing.T, environ map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"corebridge"}, args...),
		func(k string) string { return environ[k] }, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// writeConfig writes a config file of text in a fresh directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "corebridge.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigExample: the shipped example is valid, and config check
// prints every serve flag with its value and source, and the modules.
func TestConfigExample(t *testing.T) {
	out, errOut, err := configRun(t, nil, "config", "check", "--config", "../../deploy/corebridge.example.yaml")
	if err != nil {
		t.Fatalf("config check of the example: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^--bucket-url\s+https://bucket.example.org/ingest\s+file \S+corebridge.example.yaml:\d+$`),
		regexp.MustCompile(`(?m)^--bucket-token-file\s+/etc/corebridge/bucket-token\s+file `),
		regexp.MustCompile(`(?m)^--max-body\s+1MiB\s+file `),
		regexp.MustCompile(`(?m)^--silence-max-gap\s+robotics=1h0m0s\s+file `),
		regexp.MustCompile(`(?m)^--strict-order\s+finance\s+file `),
		regexp.MustCompile(`(?m)^--commit-wait\s+0s\s+default$`),
		regexp.MustCompile(`(?m)^modules \(4\):$`),
		regexp.MustCompile(`(?m)^\s+finance\s+schema \(\d+ bytes\), silence-max-gap 10m0s, strict-order true$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("config check output does not match %s:\n%s", want, out)
		}
	}
	// Every serve flag is listed.
	fs := newFlagSet("serve", "", env{stdout: io.Discard})
	serveFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(out, "\n--"+f.Name+" ") {
			t.Errorf("config check does not list --%s", f.Name)
		}
	})
}

// TestConfigBroken: each broken config is refused (exit 2), naming the
// key (and its line where it has one).
func TestConfigBroken(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notjson.json"), []byte("{type: [unclosed"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "data-dir: d\nbogus: 1\n", []string{":2:", "bogus", "unknown key"}},
		{"unknown nested key", "bucket:\n  urll: http://b/\n", []string{":2:", "bucket.urll", "unknown key"}},
		{"not an integer", "max-pending: lots\n", []string{":1:", "max-pending", "an integer"}},
		{"not a duration", "max-age: 5\n", []string{"max-age", "a duration"}},
		{"not a size", "max:\n  body: huge\n", []string{":2:", "max.body", "a size"}},
		{"not a bool", "log-data: yes\n", []string{"log-data", "true or false"}},
		{"a list for a string", "addr: [a, b]\n", []string{"addr", "not a list"}},
		{"a mapping for a string", "addr: {host: a}\n", []string{"addr", "not a mapping"}},
		{"no value", "data-dir:\n", []string{"data-dir", "no value"}},
		{"set twice", "bucket-url: http://a/\nbucket:\n  url: http://b/\n", []string{":3:", "bucket.url", "again", "line 1"}},
		{"a section given a value", "bucket: http://b/\n", []string{"bucket", "section"}},
		{"bad gap", "silence-max-gap: {finance: soon}\n", []string{"silence-max-gap", "finance"}},
		{"bad strict order item", "strict-order: [finance, {a: b}]\n", []string{"strict-order"}},
		{"a config in the config", "config: other.yaml\n", []string{"config", "cannot name another"}},
		{"not a mapping", "- data-dir\n", []string{":1:", "mapping"}},
		{"YAML syntax", "data-dir: [\n", []string{"line"}},
		{"bad bucket URL", "bucket:\n  url: ftp://b/\n", []string{"--bucket-url", "corebridge.yaml:2"}},
		{"out of range", "degraded-success-pct: 150\n", []string{"--degraded-success-pct", "corebridge.yaml:1"}},
		{"dedupe memory", "dedupe-memory: 1MiB\n", []string{"--dedupe-memory", "corebridge.yaml:1"}},
		{"off loopback without auth", "addr: 0.0.0.0:8000\n", []string{"--auth-file"}},
		{"modules not a mapping", "modules: finance\n", []string{"modules", "mapping"}},
		{"bad module name", "modules:\n  \"no spaces allowed\": {}\n", []string{"modules.no spaces allowed", "not a valid module name"}},
		{"module unknown key", "modules:\n  finance:\n    colour: red\n", []string{":3:", "modules.finance.colour", "unknown key"}},
		{"module listed twice", "modules:\n  - name: finance\n  - name: finance\n", []string{"modules[1]", "twice"}},
		{"module without name", "modules:\n  - strict-order: true\n", []string{"modules[0]", "no name"}},
		{"name in the mapping form", "modules:\n  finance:\n    name: other\n", []string{"modules.finance.name"}},
		{"schema and schema-file", "modules:\n  finance:\n    schema: {type: object}\n    schema-file: f.json\n", []string{":4:", "modules.finance.schema-file", "not both"}},
		{"schema not a mapping", "modules:\n  finance:\n    schema: object\n", []string{"modules.finance.schema"}},
		{"schema that does not compile", "modules:\n  finance:\n    schema: {type: 12}\n", []string{"modules", "finance", "schema"}},
		{"schema file missing", "modules:\n  finance:\n    schema-file: missing.json\n", []string{"modules.finance.schema-file", "missing.json"}},
		{"schema file not JSON", "modules:\n  finance:\n    schema-file: " + filepath.Join(dir, "notjson.json") + "\n", []string{"modules.finance.schema-file", "notjson.json"}},
		{"bad silence gap", "modules:\n  finance:\n    silence-max-gap: -1m\n", []string{"modules.finance.silence-max-gap", "positive duration"}},
		{"bad strict order", "modules:\n  finance:\n    strict-order: maybe\n", []string{"modules.finance.strict-order", "true or false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.yaml)
			out, _, err := configRun(t, nil, "config", "check", "--config", p)
			if exitCode(err) != 2 {
				t.Fatalf("config check: %v (exit %d), want exit 2\n%s", err, exitCode(err), out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if out != "" {
				t.Errorf("a refused config printed a configuration:\n%s", out)
			}
			// serve refuses it the same way, before it opens anything.
			if _, _, serr := configRun(t, nil, "serve", "--data-dir", t.TempDir(), "--config", p); exitCode(serr) != 2 {
				t.Errorf("serve --config: %v (exit %d), want exit 2", serr, exitCode(serr))
			}
		})
	}
}

// TestConfigPrecedence: one setting given as flag, environment and file
// resolves flag > environment > file > default, and says where from.
func TestConfigPrecedence(t *testing.T) {
	const file = "max-attempts: 7\nbucket:\n  url: http://file.example/\n"
	for _, tc := range []struct {
		name     string
		args     []string
		environ  map[string]string
		file     bool
		attempts int
		bucket   string
		kind     string
	}{
		{"default", nil, nil, false, 12, "", "default"},
		{"file", nil, nil, true, 7, "http://file.example/", "file"},
		{"env over file", nil, map[string]string{"COREBRIDGE_MAX_ATTEMPTS": "8", "COREBRIDGE_BUCKET_URL": "http://env.example/"}, true, 8, "http://env.example/", "env"},
		{"env without file", nil, map[string]string{"COREBRIDGE_MAX_ATTEMPTS": "8", "COREBRIDGE_BUCKET_URL": "http://env.example/"}, false, 8, "http://env.example/", "env"},
		{"flag over env and file", []string{"--max-attempts", "9", "--bucket-url", "http://flag.example/"},
			map[string]string{"COREBRIDGE_MAX_ATTEMPTS": "8", "COREBRIDGE_BUCKET_URL": "http://env.example/"}, true, 9, "http://flag.example/", "flag"},
		{"flag over file", []string{"--max-attempts=9", "--bucket-url=http://flag.example/"}, nil, true, 9, "http://flag.example/", "flag"},
		{"file by COREBRIDGE_CONFIG", nil, map[string]string{"COREBRIDGE_CONFIG": "(file)"}, false, 7, "http://file.example/", "file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, file)
			args := tc.args
			if tc.file {
				args = append([]string{"--config", p}, args...)
			}
			environ := map[string]string{}
			for k, v := range tc.environ {
				if v == "(file)" {
					v = p
				}
				environ[k] = v
			}
			e := env{getenv: func(k string) string { return environ[k] }, stdout: io.Discard, stderr: io.Discard}
			fs := newFlagSet("serve", "", e)
			cfg := serveFlags(fs)
			srcs, err := parseServe(fs, cfg, configFlag(fs), args, e)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.maxAttempts != tc.attempts || cfg.bucketURL != tc.bucket {
				t.Errorf("max-attempts %d, bucket-url %q; want %d, %q", cfg.maxAttempts, cfg.bucketURL, tc.attempts, tc.bucket)
			}
			for _, f := range []string{"max-attempts", "bucket-url"} {
				if srcs[f].kind != tc.kind {
					t.Errorf("--%s from %v, want %s", f, srcs[f], tc.kind)
				}
			}
			if tc.kind == "file" && !strings.HasSuffix(srcs["bucket-url"].where, ":3") {
				t.Errorf("--bucket-url from %v, want the line of url: (3)", srcs["bucket-url"])
			}
			if tc.kind == "env" && srcs["bucket-url"].where != "COREBRIDGE_BUCKET_URL" {
				t.Errorf("--bucket-url from %v, want COREBRIDGE_BUCKET_URL", srcs["bucket-url"])
			}
		})
	}
	// The file's value is checked even where the command line wins.
	p := writeConfig(t, "max-attempts: many\n")
	if _, _, err := configRun(t, nil, "config", "check", "--config", p, "--max-attempts", "3"); exitCode(err) != 2 || !strings.Contains(err.Error(), "max-attempts") {
		t.Errorf("a bad file value under a flag: %v, want exit 2 naming max-attempts", err)
	}
	// config check says where each came from.
	p = writeConfig(t, file)
	out, _, err := configRun(t, map[string]string{"COREBRIDGE_BUCKET_URL": "http://env.example/"}, "config", "check", "--config", p, "--batch-size", "10")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^--batch-size\s+10\s+flag$`, `(?m)^--bucket-url\s+http://env.example/\s+env COREBRIDGE_BUCKET_URL$`,
		`(?m)^--max-attempts\s+7\s+file \S+:1$`, `(?m)^--max-age\s+24h0m0s\s+default$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("config check output does not match %s:\n%s", re, out)
		}
	}
}

// TestConfigRedaction: config check shows no secret: not a URL's
// password, not a header's value.
func TestConfigRedaction(t *testing.T) {
	p := writeConfig(t, "bucket:\n  url: https://user:hunter2@bucket.example/in\n  header: ['X-Api-Key: sekrit-value', 'X-Tenant: $TENANT']\n"+
		"postgres:\n  url: postgres://cb:pgpass99@db.example/cb?password=qpass77\n")
	out, errOut, err := configRun(t, nil, "config", "check", "--config", p)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, secret := range []string{"hunter2", "sekrit", "pgpass99", "qpass77", "$TENANT"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("config check shows %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"bucket.example/in", "X-Api-Key: (redacted)", "X-Tenant: (redacted)", "db.example/cb"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check does not show %q:\n%s", want, out)
		}
	}
}

// TestConfigModules: the two forms of modules: give the same specs; a
// schema is JSON whether inline or in a file (relative to the config).
func TestConfigModules(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fin.json"), []byte(`{"type": "object", "required": ["amount"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mapForm := "modules:\n  finance:\n    schema-file: fin.json\n    silence-max-gap: 10m\n    strict-order: true\n" +
		"  education:\n    schema:\n      type: object\n      required: [amount]\n  creative:\n"
	listForm := "modules:\n  - name: finance\n    schema-file: fin.json\n    silence-max-gap: 10m\n    strict-order: true\n" +
		"  - name: education\n    schema: {type: object, required: [amount]}\n  - {name: creative}\n"
	var got [][]registry.ModuleSpec
	for _, text := range []string{mapForm, listForm} {
		p := filepath.Join(dir, fmt.Sprintf("c%d.yaml", len(got)))
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		e := env{getenv: func(string) string { return "" }, stdout: io.Discard}
		fs := newFlagSet("serve", "", e)
		cfg := serveFlags(fs)
		if _, err := parseServe(fs, cfg, configFlag(fs), []string{"--config", p}, e); err != nil {
			t.Fatal(err)
		}
		if err := checkServeConfig(cfg); err != nil {
			t.Fatal(err)
		}
		got = append(got, cfg.modules)
	}
	for i, mods := range got {
		if len(mods) != 3 || mods[0].Name != "finance" || mods[1].Name != "education" || mods[2].Name != "creative" {
			t.Fatalf("form %d: modules %+v", i, mods)
		}
		if mods[0].SilenceMaxGap != 10*time.Minute || mods[0].StrictOrder == nil || !*mods[0].StrictOrder || mods[1].StrictOrder != nil {
			t.Errorf("form %d: settings %+v", i, mods)
		}
		for _, m := range mods[:2] {
			var s map[string]any
			if err := json.Unmarshal(m.Schema, &s); err != nil || s["type"] != "object" {
				t.Errorf("form %d: %s schema %s (%v)", i, m.Name, m.Schema, err)
			}
		}
		if mods[2].Schema != nil {
			t.Errorf("form %d: creative has a schema %s", i, mods[2].Schema)
		}
	}
}

// TestConfigServeModules: serve --config hands the modules: section to the
// API's registry: a listed module is accepted, another refused, and data
// that does not match its module's schema too.
func TestConfigServeModules(t *testing.T) {
	p := writeConfig(t, "modules:\n  finance:\n    schema: {type: object, required: [amount]}\n  education: {}\n")
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--config", p)
	defer stop()
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"module":"finance","data":{"amount":3}}`, true},
		{`{"module":"education","data":{"x":1}}`, true},
		{`{"module":"finance","data":{"currency":"EUR"}}`, false},
		{`{"module":"robotics","data":{"x":1}}`, false},
	} {
		code, out := postJSON(t, base+"/core/update", tc.body)
		if (code == 200) != tc.ok {
			t.Errorf("%s: %d %v, want accepted %t", tc.body, code, out, tc.ok)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
