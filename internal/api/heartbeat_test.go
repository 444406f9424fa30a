package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/bridge"
	"corebridge/internal/insight"
	"corebridge/internal/registry"
)

type healthView struct {
	SilentModules []string `json:"silent_modules"`
	Reasons       []string `json:"reasons"`
}

func health(t testing.TB, f *fixture) healthView {
	t.Helper()
	r := f.do(t, "GET", "/core/health", "")
	r.want(t, http.StatusOK)
	var h healthView
	if err := json.Unmarshal(r.body, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHeartbeatKeepsModuleAlive: a module past its max gap (the
// registry's setting) is silent; heartbeats keep it from being silent
// without storing anything or giving the forwarder anything to lease;
// once they stop, it is silent again.
func TestHeartbeatKeepsModuleAlive(t *testing.T) {
	reg, err := registry.New([]registry.ModuleSpec{{Name: "finance", SilenceMaxGap: 2 * time.Minute}, {Name: "education"}, {Name: "robotics"}})
	if err != nil {
		t.Fatal(err)
	}
	// As serve wires it: the registry's gaps join --silence-max-gap's.
	f := newFixtureWith(t, setup{sqlite: true, api: api.Config{Registry: reg},
		insight: insight.Config{Silence: insight.SilenceConfig{MaxGap: reg.SilenceMaxGaps(map[string]time.Duration{"education": time.Minute})}}})
	t0 := f.clock.Now()
	wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"finance","data":{"a":1}}`), "finance", false)
	// Delivered: nothing is left to lease.
	f.settle(t, t0, 1, 1)
	before := f.stats(t)

	f.clock.Set(t0.Add(3 * time.Minute))
	if h := health(t, f); !slices.Equal(h.SilentModules, []string{"finance"}) {
		t.Fatalf("silent = %v after 3 min without a record (max gap 2 min), want [finance]", h.SilentModules)
	}
	for i := 3; i <= 10; i++ {
		f.clock.Set(t0.Add(time.Duration(i) * time.Minute))
		r := f.do(t, "POST", "/core/heartbeat", `{"module":"finance","status":"degraded","message":"disk 91%","metrics":{"disk_pct":91}}`)
		r.want(t, http.StatusOK)
		m := r.object(t)
		if got := keys(m); !slices.Equal(got, []string{"message", "module", "status", "timestamp"}) {
			t.Fatalf("heartbeat answer fields %v", got)
		}
		if m["status"] != "success" || m["module"] != "finance" || m["timestamp"] != bridge.FormatTime(f.clock.Now()) {
			t.Fatalf("heartbeat answer %s", r.body)
		}
		f.clock.Set(t0.Add(time.Duration(i)*time.Minute + 90*time.Second))
		if h := health(t, f); len(h.SilentModules) != 0 {
			t.Fatalf("minute %d: silent = %v although finance heartbeats (%v)", i, h.SilentModules, h.Reasons)
		}
	}
	// A module that only heartbeats is listed, and silent past its own max gap only.
	f.do(t, "POST", "/core/heartbeat", `{"module":"education"}`).want(t, http.StatusOK)

	if after := f.stats(t); after != before {
		t.Errorf("heartbeats changed the store's stats:\n before %+v\n after  %+v", before, after)
	}
	if l, err := f.store.Lease(t.Context(), bridge.LeaseParams{Owner: "test", Now: f.clock.Now(), TTL: time.Minute, MaxRecords: 10}); err != nil || l != nil {
		t.Fatalf("Lease after heartbeats = %+v, %v; want nothing to deliver", l, err)
	}

	r := f.do(t, "GET", "/api/modules", "")
	r.want(t, http.StatusOK)
	var mods struct {
		Modules []map[string]any `json:"modules"`
	}
	if err := json.Unmarshal(r.body, &mods); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	var names []string
	for _, m := range mods.Modules {
		byName[m["module"].(string)] = m
		names = append(names, m["module"].(string))
	}
	if !slices.Equal(names, []string{"education", "finance", "robotics"}) {
		t.Fatalf("modules %v: want the heartbeat-only and registered modules too", names)
	}
	fin := byName["finance"]
	if fin["last_heartbeat_at"] != bridge.FormatTime(t0.Add(10*time.Minute)) || fin["heartbeat_status"] != "degraded" ||
		fin["heartbeat_message"] != "disk 91%" || fin["heartbeats"] != 8.0 || fin["registered"] != true || fin["silent"] != false {
		t.Errorf("finance row %v", fin)
	}
	if m, ok := fin["heartbeat_metrics"].(map[string]any); !ok || m["disk_pct"] != 91.0 {
		t.Errorf("finance heartbeat_metrics = %#v", fin["heartbeat_metrics"])
	}
	if edu := byName["education"]; edu["heartbeat_status"] != "ok" || edu["received"] != 0.0 {
		t.Errorf("education row %v", edu)
	}
	if rob := byName["robotics"]; rob["last_heartbeat_at"] != nil || rob["heartbeats"] != 0.0 {
		t.Errorf("robotics row %v: never heartbeat", rob)
	}

	// Heartbeats stop: silent again, past the max gap since the last one.
	f.clock.Set(t0.Add(13 * time.Minute))
	h := health(t, f)
	if !slices.Equal(h.SilentModules, []string{"finance", "education"}) {
		t.Fatalf("silent = %v after heartbeats stopped, want [finance education]", h.SilentModules)
	}
	if !slices.ContainsFunc(h.Reasons, func(s string) bool {
		return strings.Contains(s, "finance silent: no record or heartbeat for 3m0s (max gap 2m0s)")
	}) {
		t.Errorf("reasons %q: want finance's, naming heartbeats", h.Reasons)
	}
	r = f.do(t, "GET", "/bucket/status", "")
	if !strings.Contains(string(r.body), `"silent_modules":["finance"]`) {
		t.Errorf("/bucket/status %s: want finance silent", r.body)
	}
}

func TestHeartbeatRefusals(t *testing.T) {
	reg, err := registry.New([]registry.ModuleSpec{{Name: "finance"}})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, setup{api: api.Config{Registry: reg}})
	long := strings.Repeat("x", api.MaxHeartbeatMessageLen+1)
	big := `{"k":"` + strings.Repeat("x", api.MaxHeartbeatMetrics) + `"}`
	for _, c := range []struct{ body, want string }{
		{``, "[body] missing"},
		{`{"module":`, "[body 10] json_invalid"},
		{`[]`, "[body] model_attributes_type"},
		{`{}`, "[body module] missing"},
		{`{"module":7}`, "[body module] string_type"},
		{`{"module":"-x"}`, "[body module] string_pattern_mismatch"},
		{`{"module":"robotics"}`, "[body module] module_unknown"},
		{`{"module":"finance","status":"fine"}`, "[body status] literal_error"},
		{`{"module":"finance","status":1}`, "[body status] string_type"},
		{`{"module":"finance","message":` + `"` + long + `"}`, "[body message] string_too_long"},
		{`{"module":"finance","metrics":[1]}`, "[body metrics] dict_type"},
		{`{"module":"finance","metrics":` + big + `}`, "[body metrics] too_long"},
		{`{"status":"bad","metrics":3}`, "[body module] missing|[body status] literal_error|[body metrics] dict_type"},
		{strings.Repeat("[", 70) + strings.Repeat("]", 70), "[body 64] json_too_deep"},
	} {
		got := strings.Join(fieldErrors(t, f.do(t, "POST", "/core/heartbeat", c.body)), "|")
		if got != c.want {
			t.Errorf("heartbeat %.60s: field errors %q, want %q", c.body, got, c.want)
		}
	}
	// Null means absent; other fields are ignored.
	f.do(t, "POST", "/core/heartbeat", `{"module":"finance","status":null,"message":null,"metrics":null,"extra":1}`).want(t, http.StatusOK)
	if hb, ok := f.hub.LastHeartbeat("finance"); !ok || hb.Status != "ok" || hb.Metrics != nil {
		t.Errorf("last heartbeat = %+v, %v", hb, ok)
	}
}

func TestHeartbeatModuleLimit(t *testing.T) {
	f := newFixtureWith(t, setup{insight: insight.Config{MaxHeartbeatModules: 2}})
	for _, m := range []string{"a", "b", "a"} {
		f.do(t, "POST", "/core/heartbeat", `{"module":"`+m+`"}`).want(t, http.StatusOK)
	}
	if got := fieldErrors(t, f.do(t, "POST", "/core/heartbeat", `{"module":"c"}`)); !slices.Equal(got, []string{"[body module] module_limit"}) {
		t.Errorf("third module: %v", got)
	}
	if hb, _ := f.hub.LastHeartbeat("a"); hb.Count != 2 {
		t.Errorf("a's count = %d, want 2", hb.Count)
	}
}

// BenchmarkHeartbeat: 1,000 modules taking turns, one request each.
func BenchmarkHeartbeat(b *testing.B) {
	f := newFixtureWith(b, setup{})
	bodies := make([]string, 1000)
	for i := range bodies {
		bodies[i] = `{"module":"m` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `-` + time.Duration(i).String() + `","metrics":{"q":1}}`
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		f.do(b, "POST", "/core/heartbeat", bodies[i%len(bodies)]).want(b, http.StatusOK)
		i++
	}
}
