package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"corebridge/internal/api"
)

const drillReport = `{"passed":true,"run":"r-1","started":"2026-12-08T09:00:00Z","acknowledged":10,"lost_count":0,
"duplicated_count":0,"order_violation_count":0,"faults":[{"name":"kill-9 bridge","recovered":true,"time_to_recover_ms":150}],"problems":[]}`

// POST /api/drill keeps the report (compact) in a 0600 file, GET returns
// it, and a server started on the same file returns it too; a body that
// is not a drill report is a 400 naming the field, and keeps nothing.
func TestDrillReportKept(t *testing.T) {
	file := filepath.Join(t.TempDir(), "drill-last.json")
	f := newFixtureWith(t, setup{api: api.Config{DrillReportFile: file}})
	if got := f.do(t, "GET", "/api/drill", "").object(t); got["report"] != nil {
		t.Fatalf("GET /api/drill before any: %v, want report null", got)
	}
	for body, field := range map[string]string{
		`{"run":"x"}`: `"passed"`,
		`[]`:          "not a drill report",
		`{"passed":true,"run":"r","started":"s","acknowledged":1,"lost_count":1,"duplicated_count":0,"order_violation_count":0,"faults":[]}`: `"passed" is true with lost`,
		strings.Replace(drillReport, `"faults":[`, `"faultz":[`, 1):                                                                          `"faults"`,
	} {
		r := f.do(t, "POST", "/api/drill", body)
		r.want(t, 400)
		if d, _ := r.object(t)["detail"].(string); !strings.Contains(d, field) {
			t.Errorf("POST %s: detail %q does not name %s", body, d, field)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a refused report left a file: %v", err)
	}
	f.do(t, "POST", "/api/drill", drillReport).want(t, 200)
	got := f.do(t, "GET", "/api/drill", "").object(t)
	rep, _ := got["report"].(map[string]any)
	if rep["run"] != "r-1" || rep["passed"] != true {
		t.Fatalf("GET /api/drill = %v", got)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the kept report: %v, mode %v; want 0600", err, st.Mode())
	}
	again := newFixtureWith(t, setup{api: api.Config{DrillReportFile: file}})
	if rep, _ := again.do(t, "GET", "/api/drill", "").object(t)["report"].(map[string]any); rep["run"] != "r-1" {
		t.Fatalf("after a restart: %v", rep)
	}
}
