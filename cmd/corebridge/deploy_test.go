package main

// Tests of what deploy/ ships beside the binary: the Prometheus alert
// rules, the Grafana dashboard and the systemd unit. The rules and the
// dashboard may name only metrics (and labels) that a running serve
// exports; promtool checks and unit-tests the rules (CI sets
// COREBRIDGE_REQUIRE_PROMTOOL=1); systemd-analyze verifies the unit (CI
// sets COREBRIDGE_REQUIRE_SYSTEMD=1).

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const deployDir = "../../deploy"

// scrapeLabels maps each series name of a /metrics scrape (histograms'
// _bucket, _sum and _count included) to the label names its series carry.
func scrapeLabels(scrape string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	nameRE := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s`)
	labelRE := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
	for _, line := range strings.Split(scrape, "\n") {
		m := nameRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if out[m[1]] == nil {
			out[m[1]] = map[string]bool{}
		}
		for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
			out[m[1]][l[1]] = true
		}
	}
	return out
}

// promqlRef is a metric a PromQL expression reads, with the label names its
// selector matches on.
type promqlRef struct {
	Metric string
	Labels []string
}

var (
	promqlString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlGrafana  = regexp.MustCompile(`\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*`)
	promqlRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlOffset   = regexp.MustCompile(`\boffset\s+-?[0-9a-z]+`)
	promqlNumber   = regexp.MustCompile(`\b(0x[0-9a-fA-F]+|[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?|[0-9]+[smhdwy])\b`)
	promqlSelector = regexp.MustCompile(`\{([^}]*)\}`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlMatcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	// label_values(metric, label) and label_values(label) of Grafana's
	// template variables: only the metric is one.
	grafanaLabelValues = regexp.MustCompile(`label_values\(\s*(?:([^,]*?)\s*,\s*)?[a-zA-Z_][a-zA-Z0-9_]*\s*\)`)
	promqlKeywords     = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true, "Inf": true, "NaN": true, "atan2": true}
)

// promqlRefs returns the metrics expr reads: identifiers followed by a
// selector `{`, a range `[`, or standing bare, but not functions (followed
// by `(`), keywords, label names in selectors and grouping clauses,
// strings, numbers, durations or Grafana variables ($job, ${__rate_interval}).
func promqlRefs(expr string) []promqlRef {
	// Strings first (they may hold anything), then what is not a metric;
	// a selector's label names go to the metric before it.
	s := promqlString.ReplaceAllString(expr, `""`)
	s = grafanaLabelValues.ReplaceAllString(s, "$1")
	s = promqlGrafana.ReplaceAllString(s, " ")
	s = promqlOffset.ReplaceAllString(s, " ")
	s = promqlNumber.ReplaceAllString(s, " ")
	var sels [][]string
	s = promqlSelector.ReplaceAllStringFunc(s, func(m string) string {
		var ls []string
		for _, mm := range promqlMatcher.FindAllStringSubmatch(m, -1) {
			ls = append(ls, mm[1])
		}
		sels = append(sels, ls)
		return fmt.Sprintf(" ⟨%d⟩ ", len(sels)-1)
	})
	s = promqlRange.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	var refs []promqlRef
	selRE := regexp.MustCompile(`^\s*⟨(\d+)⟩`)
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		name, rest := s[loc[0]:loc[1]], s[loc[1]:]
		if promqlKeywords[name] || strings.HasPrefix(strings.TrimLeft(rest, " \t\n"), "(") {
			continue
		}
		ref := promqlRef{Metric: name}
		if m := selRE.FindStringSubmatch(rest); m != nil {
			var i int
			fmt.Sscan(m[1], &i)
			ref.Labels = sels[i]
		}
		refs = append(refs, ref)
	}
	return refs
}

func TestPromQLRefs(t *testing.T) {
	for expr, want := range map[string]string{
		`up{job="corebridge"} == 0`: `up[job]`,
		`sum by (job, instance) (increase(a_total{code="503"}[5m])) - on (job, instance) sum by (job, instance) (increase(b_total{cap="x"}[5m])) > 0.5`: `a_total[code] b_total[cap]`,
		`time() - max by (job) (max_over_time(c_seconds[7d])) > 3 * 3600 and max by (job) (max_over_time(c_seconds[7d])) > 0`:                           `c_seconds c_seconds`,
		`histogram_quantile(0.95, sum by (le, instance) (rate(d_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval])))`:                        `d_bucket[job instance]`,
		`e_gauge > 0.8 * 1e6 unless f_gauge offset 5m`:                   `e_gauge f_gauge`,
		`label_values(g_info{job=~"$job"}, instance)`:                    `g_info[job]`,
		`label_values(instance)`:                                         ``,
		`h{a="x{y}", b!~"by (q)"} / ignoring(le) group_left(module) i_t`: `h[a b] i_t`,
		"j_total{m=`a\"b`}[1h:1m]":                                       `j_total[m]`,
		`deriv(k[15m]) > 0 and bool k`:                                   `k k`,
	} {
		var got []string
		for _, r := range promqlRefs(expr) {
			if len(r.Labels) > 0 {
				got = append(got, r.Metric+"["+strings.Join(r.Labels, " ")+"]")
			} else {
				got = append(got, r.Metric)
			}
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("promqlRefs(%q) = %q, want %q", expr, g, want)
		}
	}
}

// deployExprs returns every PromQL expression of deploy/alerts.yml and
// deploy/grafana-dashboard.json (panel targets and template variables),
// each with where it is.
func deployExprs(t *testing.T) map[string]string {
	t.Helper()
	exprs := map[string]string{}
	b, err := os.ReadFile(filepath.Join(deployDir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct{ Alert, Record, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs["alerts.yml: "+r.Alert+r.Record] = r.Expr
		}
	}
	b, err = os.ReadFile(filepath.Join(deployDir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	// Walk the whole document for the "expr" of every target (rows may
	// nest panels); then the template variables' queries.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if title, ok := v["title"].(string); ok {
				path += " / " + title
			}
			for _, k := range keys {
				if e, ok := v[k].(string); ok && k == "expr" {
					exprs[fmt.Sprintf("grafana-dashboard.json%s (expr %d)", path, len(exprs))] = e
				} else {
					walk(path, v[k])
				}
			}
		case []any:
			for _, e := range v {
				walk(path, e)
			}
		}
	}
	var tmpl struct {
		Templating struct {
			List []struct {
				Name, Type, Definition string
				Query                  any
			}
		}
	}
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	for _, v := range tmpl.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		for i, e := range []string{q, v.Definition} {
			if e != "" {
				exprs[fmt.Sprintf("grafana-dashboard.json: variable $%s (%d)", v.Name, i)] = e
			}
		}
	}
	walk("", dash)
	return exprs
}

// promSynthetic are series Prometheus itself adds to every target.
var promSynthetic = map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true}

// TestDeployMetricsExist checks that every metric the alert rules and the
// dashboard read, and every label they match on, is one a running serve
// exports.
func TestDeployMetricsExist(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, "--data-dir", filepath.Join(dir, "data"), "--reconcile-every", "1h")
	postRoundRobin(t, base, []string{"finance", "education"}, 4)
	waitFor(t, "4 records synced", 20*time.Second, func() bool {
		return getJSON(t, base+"/core/health")["synced_total"] == 4.0
	})
	series := scrapeLabels(getText(t, base+"/metrics"))
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}

	exprs := deployExprs(t)
	seen := map[string]bool{}
	where := make([]string, 0, len(exprs))
	for w := range exprs {
		where = append(where, w)
	}
	sort.Strings(where)
	for _, w := range where {
		refs := promqlRefs(exprs[w])
		if len(refs) == 0 && !strings.Contains(exprs[w], "label_values(") {
			t.Errorf("%s: no metric found in %q", w, exprs[w])
		}
		for _, r := range refs {
			seen[r.Metric] = true
			if promSynthetic[r.Metric] {
				continue
			}
			labels, ok := series[r.Metric]
			if !ok {
				t.Errorf("%s: metric %s is not in /metrics (expression %q)", w, r.Metric, exprs[w])
				continue
			}
			for _, l := range r.Labels {
				if l != "job" && l != "instance" && l != "__name__" && !labels[l] {
					t.Errorf("%s: metric %s has no label %q (expression %q)", w, r.Metric, l, exprs[w])
				}
			}
		}
	}
	// What the rules and the dashboard must cover (issue 19, point 7), so
	// that an extraction that finds nothing cannot pass.
	for _, m := range []string{"up", "corebridge_store_up", "corebridge_queue_depth", "corebridge_oldest_pending_age_seconds",
		"corebridge_records_dead_total", "corebridge_module_dead_records", "corebridge_bucket_reachable", "corebridge_breaker_state",
		"corebridge_ingest_requests_total", "corebridge_reconcile_records", "corebridge_reconcile_last_run_timestamp_seconds",
		"corebridge_records_received_total", "corebridge_records_synced_total", "corebridge_delivery_latency_seconds_bucket"} {
		if !seen[m] {
			t.Errorf("neither deploy/alerts.yml nor deploy/grafana-dashboard.json reads %s", m)
		}
	}
	t.Logf("%d expressions read %d metrics", len(exprs), len(seen))
}

// needTool returns the path of a command-line tool, or skips the test
// when it is missing, unless env is "1" (CI), which makes it a failure.
func needTool(t *testing.T, name, env, install string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(env) == "1" {
			t.Fatalf("%s is required (%s=1) but not installed", name, env)
		}
		t.Skipf("%s not installed (%s)", name, install)
	}
	return bin
}

// TestDeployAlertRules: promtool accepts deploy/alerts.yml, and its unit
// tests (deploy/alerts_test.yml: each rule firing and not) pass.
func TestDeployAlertRules(t *testing.T) {
	bin := needTool(t, "promtool", "COREBRIDGE_REQUIRE_PROMTOOL", "apt-get install prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = deployDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Every rule has a unit test.
	b, err := os.ReadFile(filepath.Join(deployDir, "alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for w := range deployExprs(t) {
		if name, ok := strings.CutPrefix(w, "alerts.yml: "); ok && !strings.Contains(string(b), "alertname: "+name+"\n") {
			t.Errorf("deploy/alerts_test.yml does not test %s", name)
		}
	}
}

// unitExecStart returns the words of the unit's ExecStart= (continuation
// lines joined).
func unitExecStart(t *testing.T, unit string) []string {
	t.Helper()
	joined := strings.ReplaceAll(unit, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatal("deploy/corebridge.service has no ExecStart=")
	return nil
}

// TestDeploySystemdUnit: the unit's serve command line parses (every flag
// exists and its value is valid), it is hardened as issue 19 asks, and
// systemd-analyze verifies it (in a temporary copy whose ExecStart points
// at this test's binary: verify wants the program to exist).
func TestDeploySystemdUnit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "corebridge.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	argv := unitExecStart(t, unit)
	if argv[0] != "/usr/local/bin/corebridge" || len(argv) < 2 || argv[1] != "serve" {
		t.Fatalf("ExecStart = %q, want /usr/local/bin/corebridge serve …", argv)
	}
	// --help last: run parses every flag before it, then prints the usage.
	var stderr strings.Builder
	if err := run(t.Context(), append(append([]string{"corebridge"}, argv[1:]...), "--help"), func(string) string { return "" },
		strings.NewReader(""), io.Discard, &stderr); err != nil {
		t.Errorf("ExecStart's flags: %v\n%s", err, stderr.String())
	}
	if i := slices.Index(argv, "--addr"); i < 0 || !strings.HasPrefix(argv[i+1], "127.0.0.1:") {
		t.Errorf("ExecStart must keep --addr on loopback: %q", argv)
	}
	if i := slices.Index(argv, "--data-dir"); i < 0 || argv[i+1] != "/var/lib/corebridge" {
		t.Errorf("ExecStart must keep the store in /var/lib/corebridge: %q", argv)
	}
	for _, want := range []string{"Type=exec", "DynamicUser=yes", "StateDirectory=corebridge", "ProtectSystem=strict", "ProtectHome=yes",
		"PrivateTmp=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "Restart=on-failure", "RestartSec=", "ExecStartPost="} {
		if !strings.Contains(unit, "\n"+want) {
			t.Errorf("deploy/corebridge.service lacks %q", strings.TrimSpace(want))
		}
	}

	bin := needTool(t, "systemd-analyze", "COREBRIDGE_REQUIRE_SYSTEMD", "apt-get install systemd")
	// verify wants ExecStart='s program to exist and be executable. This
	// test's own binary, freshly built from this package (whose run() parsed
	// the flags above), stands in for /usr/local/bin/corebridge in a copy of
	// the unit, so that the test builds nothing more.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyPath := filepath.Join(dir, "corebridge.service")
	if err := os.WriteFile(copyPath, []byte(strings.Replace(unit, "ExecStart=/usr/local/bin/corebridge ", "ExecStart="+exe+" ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "verify", copyPath)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	// verify exits 0 on an unknown key and only says so: any output is a problem.
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
