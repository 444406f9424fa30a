package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/bridge"
)

// TestSummaryAndModules: /api/summary is /core/health's body; /api/modules
// lists each module's counts, 24 h figures and silence.
func TestSummaryAndModules(t *testing.T) {
	f := newFixture(t, api.Config{})
	t0 := f.clock.Now()
	// education sends every 30 s, four times; finance once.
	for i := range 4 {
		f.clock.Set(t0.Add(time.Duration(30*i) * time.Second))
		f.do(t, "POST", "/core/update", fmt.Sprintf(`{"module":"education","data":{"i":%d}}`, i)).want(t, http.StatusOK)
	}
	f.do(t, "POST", "/core/update", `{"module":"finance","data":{}}`).want(t, http.StatusOK)
	f.do(t, "POST", "/core/update", `{"module":"finance","data":[]}`).want(t, http.StatusUnprocessableEntity)
	f.settle(t, t0.Add(100*time.Second), 4, 3)

	f.clock.Set(t0.Add(100 * time.Second))
	sum := f.do(t, "GET", "/api/summary", "").object(t)
	health := f.do(t, "GET", "/core/health", "").object(t)
	delete(sum, "uptime_s")
	delete(health, "uptime_s")
	if fmt.Sprint(sum) != fmt.Sprint(health) {
		t.Errorf("/api/summary differs from /core/health:\n%v\n%v", sum, health)
	}
	for k, want := range map[string]int64{"received_24h": 5, "rejected_24h": 1, "synced_24h": 3, "dead_24h": 1, "error_count_24h": 1, "queue_depth": 1} {
		if n := wantInt(t, sum, k); n != want {
			t.Errorf("%s = %d, want %d", k, n, want)
		}
	}
	if p := wantFloat(t, sum, "sync_success_pct_24h"); p != 75 {
		t.Errorf("sync_success_pct_24h = %v, want 75", p)
	}

	mods := f.do(t, "GET", "/api/modules", "")
	mods.want(t, http.StatusOK)
	var out struct {
		Modules []map[string]any `json:"modules"`
	}
	if err := json.Unmarshal(mods.body, &out); err != nil || len(out.Modules) != 2 {
		t.Fatalf("modules: %s (%v)", mods.body, err)
	}
	edu := out.Modules[0]
	if edu["module"] != "education" || edu["received"] != 4.0 || edu["synced"] != 3.0 || edu["dead"] != 1.0 ||
		edu["received_24h"] != 4.0 || edu["usual_interval_s"] != 30.0 || edu["silent"] != false {
		t.Errorf("education row %v", edu)
	}
	if out.Modules[1]["usual_interval_s"] != nil {
		t.Errorf("finance sent once: usual interval %v, want null", out.Modules[1]["usual_interval_s"])
	}

	// 5 × 30 s after its last record, education is silent: health says
	// degraded and names it.
	f.clock.Set(t0.Add(90*time.Second + 151*time.Second))
	h := f.do(t, "GET", "/core/health", "").object(t)
	if h["status"] != "degraded" || fmt.Sprint(h["silent_modules"]) != "[education]" ||
		!strings.Contains(fmt.Sprint(h["reasons"]), "module education silent") {
		t.Errorf("silent education: status %v, silent %v, reasons %v", h["status"], h["silent_modules"], h["reasons"])
	}
	if b := f.do(t, "GET", "/bucket/status", "").object(t); fmt.Sprint(b["silent_modules"]) != "[education]" {
		t.Errorf("/bucket/status silent_modules = %v", b["silent_modules"])
	}
}

func TestSeriesRoute(t *testing.T) {
	f := newFixture(t, api.Config{})
	f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`).want(t, http.StatusOK)
	for _, c := range []struct {
		window string
		points int
	}{{"", 60}, {"1h", 60}, {"24h", 1440}} {
		r := f.do(t, "GET", "/api/series?window="+c.window, "")
		r.want(t, http.StatusOK)
		var s struct {
			Points []struct {
				Received int64 `json:"received"`
			} `json:"points"`
		}
		if err := json.Unmarshal(r.body, &s); err != nil || len(s.Points) != c.points || s.Points[c.points-1].Received != 1 {
			t.Errorf("window %q: %d points, err %v, body %.200s", c.window, len(s.Points), err, r.body)
		}
	}
	r := f.do(t, "GET", "/api/series?window=7d", "")
	r.want(t, http.StatusUnprocessableEntity)
	if !strings.Contains(string(r.body), `"window"`) {
		t.Errorf("422 does not name the field: %s", r.body)
	}
}

// TestEditDeadLetter: a dead letter's data is replaced (validated like an
// update's) and the edit shows in the record's history.
func TestEditDeadLetter(t *testing.T) {
	f := newFixture(t, api.Config{})
	id := f.do(t, "POST", "/core/update", `{"module":"m","data":{"score":"ninety"}}`).object(t)["record_id"].(string)
	pendingID := f.do(t, "POST", "/core/update", `{"module":"other","data":{}}`).object(t)["record_id"].(string)
	f.settle(t, f.clock.Now(), 1, 0, "other")

	for _, c := range []struct {
		name, id, body string
		code           int
		field          string
	}{
		{"data not an object", id, `{"data":[1]}`, 422, "data"},
		{"no data", id, `{}`, 422, "data"},
		{"not JSON", id, `{"data":`, 422, "body"},
		{"note too long", id, `{"data":{},"note":"` + strings.Repeat("x", 501) + `"}`, 422, "note"},
		{"not a dead letter", pendingID, `{"data":{}}`, 404, ""},
		{"unknown id", "nope", `{"data":{}}`, 404, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, "PUT", "/api/dead-letters/"+c.id+"/data", c.body)
			r.want(t, c.code)
			if c.field != "" && !strings.Contains(string(r.body), `"`+c.field+`"`) {
				t.Errorf("error does not name %q: %s", c.field, r.body)
			}
		})
	}
	r := f.do(t, "PUT", "/api/dead-letters/"+id+"/data", `{"data":{"score":90},"note":"typo"}`)
	r.want(t, http.StatusOK)
	if d := r.object(t); fmt.Sprint(d["data"]) != "map[score:90]" {
		t.Errorf("edited dead letter %v", d)
	}
	rec := f.do(t, "GET", "/api/records/"+id, "").object(t)
	if rec["id"] != id || rec["state"] != "dead" {
		t.Fatalf("GET /api/records/%s = %v", id, rec)
	}
	edits, _ := rec["edits"].([]any)
	if len(edits) != 1 {
		t.Fatalf("edits %v", rec["edits"])
	}
	e := edits[0].(map[string]any)
	if fmt.Sprint(e["old_data"]) != "map[score:ninety]" || fmt.Sprint(e["new_data"]) != "map[score:90]" || e["note"] != "typo" {
		t.Errorf("edit %v", e)
	}
	if got, _ := f.store.Get(t.Context(), id); got.State != bridge.StateDead {
		t.Errorf("an edit must not replay: state %v", got.State)
	}
}

func TestAutomationRunsRoute(t *testing.T) {
	f := newFixture(t, api.Config{})
	if m := f.do(t, "GET", "/api/automation/runs", "").object(t); m["attached"] != false || fmt.Sprint(m["runs"]) != "[]" {
		t.Errorf("no runner: %v", m)
	}
	g := newFixture(t, api.Config{Automation: func() any { return []map[string]string{{"job": "j", "status": "ok"}} }})
	if m := g.do(t, "GET", "/api/automation/runs", "").object(t); m["attached"] != true || fmt.Sprint(m["runs"]) != "[map[job:j status:ok]]" {
		t.Errorf("with a runner: %v", m)
	}
}
