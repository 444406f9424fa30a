package automation

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"corebridge/client"
)

// prototypeConfig is in the prototype's format, exactly: the file its
// users already have must load unchanged.
const prototypeConfig = `{
  "jobs": [
    {"name": "Initial Sync", "trigger": {"type": "onStartup", "value": true},
     "actions": [{"type": "get_bucket_status"}]},
    {"name": "Education Update", "trigger": {"type": "intervalMinutes", "value": 30},
     "actions": [{"type": "send_core_update", "data": {"module": "education", "data": {"student_id": "S-1", "score": 91}}},
                 {"type": "get_bucket_status"}]}
  ]
}`

func TestParsePrototypeFormat(t *testing.T) {
	cfg := mustParse(t, prototypeConfig)
	if len(cfg.Jobs) != 2 {
		t.Fatalf("%d jobs, want 2", len(cfg.Jobs))
	}
	j0, j1 := cfg.Jobs[0], cfg.Jobs[1]
	if j0.Name != "Initial Sync" || j0.Trigger.Type != TriggerStartup || j0.CatchUp != CatchUpSkip ||
		len(j0.Actions) != 1 || j0.Actions[0].Type != ActionBucketStatus || j0.Actions[0].Attempts != DefaultAttempts {
		t.Errorf("job 0: %+v", j0)
	}
	if j1.Trigger.Type != TriggerMinutes || j1.Trigger.Every != 30*time.Minute {
		t.Errorf("job 1 trigger: %+v", j1.Trigger)
	}
	u := j1.Actions[0].Update
	if u.Module != "education" || string(u.Data.(json.RawMessage)) != `{"student_id": "S-1", "score": 91}` || u.SessionID != "" {
		t.Errorf("job 1 update: %+v", u)
	}
}

func TestLoadShippedConfig(t *testing.T) {
	cfg, err := Load("../../automation/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var startup, perModule int
	modules := map[string]bool{}
	for _, j := range cfg.Jobs {
		if j.Trigger.Type == TriggerStartup {
			startup++
		}
		for _, a := range j.Actions {
			if a.Type == ActionUpdate && j.Trigger.Type == TriggerMinutes {
				modules[a.Update.Module] = true
				perModule++
			}
		}
	}
	if startup != 1 || perModule != 4 || len(modules) != 4 {
		t.Errorf("shipped config: %d startup jobs, %d interval updates over modules %v; want 1 and one per module of 4", startup, perModule, modules)
	}
}

func TestParseExtensions(t *testing.T) {
	cfg := mustParse(t, `{"jobs": [
	  {"name": "c", "trigger": {"type": "cron", "value": "30 9 * * 1-5", "timezone": "Europe/Berlin"}, "catchUp": "once",
	   "actions": [{"type": "check_health", "attempts": 5, "data": {"assert": ["pending_queue < 100", "status == \"ok\""]}}]},
	  {"name": "s", "trigger": {"type": "intervalSeconds", "value": 2.5},
	   "actions": [{"type": "send_batch", "data": {"updates": [{"module": "a", "data": {}}, {"module": "b", "data": {"x": 1}, "session_id": "s1"}]}},
	               {"type": "replay_dead_letters", "data": {"module": "finance"}},
	               {"type": "http_request", "data": {"method": "POST", "url": "https://example.com/hook", "headers": {"X-A": "1"},
	                 "body": {"k": "v"}, "expectStatus": [200, 202]}},
	               {"type": "http_request", "data": {"url": "/core/health", "body": "plain"}}]},
	  {"name": "d", "actions": [{"type": "get_bucket_status", "data": {"assert": "total_sync_count >= 1"}}]}
	]}`)
	c, s, d := cfg.Jobs[0], cfg.Jobs[1], cfg.Jobs[2]
	if c.Trigger.Cron != "30 9 * * 1-5" || c.Trigger.TimeZone != "Europe/Berlin" || c.CatchUp != CatchUpOnce || c.Actions[0].Attempts != 5 {
		t.Errorf("cron job: %+v", c)
	}
	if as := c.Actions[0].Asserts; len(as) != 2 || as[0].Field != "pending_queue" || as[0].Op != "<" || as[0].Value != 100.0 || as[1].Value != "ok" {
		t.Errorf("assertions: %+v", as)
	}
	if s.Trigger.Every != 2500*time.Millisecond {
		t.Errorf("intervalSeconds 2.5 = %v", s.Trigger.Every)
	}
	if b := s.Actions[0].Batch; len(b) != 2 || b[1].SessionID != "s1" || b[0].Module != "a" {
		t.Errorf("batch: %+v", b)
	}
	if sel := s.Actions[1].Replay; !reflect.DeepEqual(sel, client.Selector{Module: "finance"}) {
		t.Errorf("replay selector: %+v", sel)
	}
	h := s.Actions[2].HTTP
	if h.Method != "POST" || h.URL != "https://example.com/hook" || h.Headers["X-A"] != "1" || string(h.Body) != `{"k": "v"}` || !reflect.DeepEqual(h.ExpectStatus, []int{200, 202}) {
		t.Errorf("http_request: %+v", h)
	}
	if h := s.Actions[3].HTTP; h.Method != "GET" || string(h.Body) != "plain" || h.ExpectStatus != nil {
		t.Errorf("http_request with defaults: %+v", h)
	}
	if d.Trigger.Type != "" || len(d.Actions[0].Asserts) != 1 {
		t.Errorf("job without a trigger: %+v", d)
	}
}

// TestParseErrors: every problem names the job, the field path and what
// is wrong.
func TestParseErrors(t *testing.T) {
	job := func(s string) string { return `{"jobs":[` + s + `]}` }
	tests := []struct {
		name, config        string
		job, field, problem string
	}{
		{"not JSON", `{"jobs": [}`, "", "", "invalid JSON at line 1, column 11"},
		{"no jobs", `{}`, "", "jobs", "required"},
		{"empty jobs", `{"jobs": []}`, "", "jobs", "is empty"},
		{"unknown top-level field", `{"jobs": [{"name":"a","actions":[{"type":"get_bucket_status"}]}], "job": 1}`, "", "job", "unknown field"},
		{"job without name", job(`{"actions":[{"type":"get_bucket_status"}]}`), "", "jobs[0].name", "required"},
		{"blank name", job(`{"name":" ","actions":[{"type":"get_bucket_status"}]}`), "", "jobs[0].name", "must not be empty"},
		{"duplicate name", job(`{"name":"a","actions":[{"type":"get_bucket_status"}]},{"name":"a","actions":[{"type":"get_bucket_status"}]}`),
			"a", "jobs[1].name", "duplicate of jobs[0].name"},
		{"unknown job field", job(`{"name":"a","catchup":"once","actions":[{"type":"get_bucket_status"}]}`), "a", "jobs[0].catchup", "unknown field"},
		{"unknown trigger type", job(`{"name":"a","trigger":{"type":"hourly"},"actions":[{"type":"get_bucket_status"}]}`),
			"a", "jobs[0].trigger.type", `unknown trigger type "hourly"`},
		{"trigger without type", job(`{"name":"a","trigger":{"value":5},"actions":[{"type":"get_bucket_status"}]}`), "a", "jobs[0].trigger.type", "required"},
		{"interval not a number", job(`{"name":"a","trigger":{"type":"intervalMinutes","value":"5"},"actions":[{"type":"get_bucket_status"}]}`),
			"a", "jobs[0].trigger.value", "must be a number"},
		{"interval zero", job(`{"name":"a","trigger":{"type":"intervalMinutes","value":0},"actions":[{"type":"get_bucket_status"}]}`),
			"a", "jobs[0].trigger.value", "between 1 second and 366 days"},
		{"interval below a second", job(`{"name":"a","trigger":{"type":"intervalSeconds","value":0.5},"actions":[{"type":"get_bucket_status"}]}`),
			"a", "jobs[0].trigger.value", "between 1 second"},
		{"bad cron", job(`{"name":"a","trigger":{"type":"cron","value":"61 * * * *"},"actions":[{"type":"get_bucket_status"}]}`),
			"a", "jobs[0].trigger.value", "invalid cron expression"},
		{"six-field cron", job(`{"name":"a","trigger":{"type":"cron","value":"0 0 * * * *"},"actions":[{"type":"get_bucket_status"}]}`),
			"a", "jobs[0].trigger.value", "invalid cron expression"},
		{"cron that never fires", job(`{"name":"a","trigger":{"type":"cron","value":"0 0 30 2 *"},"actions":[{"type":"get_bucket_status"}]}`),
			"a", "jobs[0].trigger.value", "never matches a date"},
		{"bad time zone", job(`{"name":"a","trigger":{"type":"cron","value":"0 * * * *","timezone":"Mars/Olympus"},"actions":[{"type":"get_bucket_status"}]}`),
			"a", "jobs[0].trigger.timezone", `unknown time zone "Mars/Olympus"`},
		{"time zone on interval", job(`{"name":"a","trigger":{"type":"intervalMinutes","value":1,"timezone":"UTC"},"actions":[{"type":"get_bucket_status"}]}`),
			"a", "jobs[0].trigger.timezone", "only a cron trigger"},
		{"bad catchUp", job(`{"name":"a","catchUp":"all","actions":[{"type":"get_bucket_status"}]}`), "a", "jobs[0].catchUp", `must be "skip" or "once"`},
		{"no actions", job(`{"name":"a"}`), "a", "jobs[0].actions", "required"},
		{"empty actions", job(`{"name":"a","actions":[]}`), "a", "jobs[0].actions", "is empty"},
		{"unknown action type", job(`{"name":"a","actions":[{"type":"get_bucket_status"},{"type":"send_email"}]}`),
			"a", "jobs[0].actions[1].type", `unknown action type "send_email"`},
		{"update without module", job(`{"name":"a","actions":[{"type":"send_core_update","data":{"data":{}}}]}`),
			"a", "jobs[0].actions[0].data.module", "required"},
		{"update with bad module", job(`{"name":"a","actions":[{"type":"send_core_update","data":{"module":"a b","data":{}}}]}`),
			"a", "jobs[0].actions[0].data.module", "invalid module name"},
		{"update data not an object", job(`{"name":"a","actions":[{"type":"send_core_update","data":{"module":"m","data":[1]}}]}`),
			"a", "jobs[0].actions[0].data.data", "must be an object"},
		{"update without data", job(`{"name":"a","actions":[{"type":"send_core_update"}]}`), "a", "jobs[0].actions[0].data", "required"},
		{"attempts out of range", job(`{"name":"a","actions":[{"type":"get_bucket_status","attempts":0}]}`),
			"a", "jobs[0].actions[0].attempts", "from 1 to 10"},
		{"bad assertion", job(`{"name":"a","actions":[{"type":"check_health","data":{"assert":["pending_queue <"]}}]}`),
			"a", "jobs[0].actions[0].data.assert[0]", "cannot read"},
		{"ordering a string", job(`{"name":"a","actions":[{"type":"check_health","data":{"assert":["status < \"ok\""]}}]}`),
			"a", "jobs[0].actions[0].data.assert[0]", "compares numbers only"},
		{"empty batch", job(`{"name":"a","actions":[{"type":"send_batch","data":{"updates":[]}}]}`),
			"a", "jobs[0].actions[0].data.updates", "1 to 1000"},
		{"bad batch item", job(`{"name":"a","actions":[{"type":"send_batch","data":{"updates":[{"module":"m","data":{}},{"module":"m"}]}}]}`),
			"a", "jobs[0].actions[0].data.updates[1].data", "required"},
		{"replay without selector", job(`{"name":"a","actions":[{"type":"replay_dead_letters"}]}`), "a", "jobs[0].actions[0].data", "exactly one of"},
		{"replay with two selectors", job(`{"name":"a","actions":[{"type":"replay_dead_letters","data":{"all":true,"module":"m"}}]}`),
			"a", "jobs[0].actions[0].data", "exactly one of"},
		{"replay all false", job(`{"name":"a","actions":[{"type":"replay_dead_letters","data":{"all":false}}]}`), "a", "jobs[0].actions[0].data.all", "must be true"},
		{"http without url", job(`{"name":"a","actions":[{"type":"http_request","data":{"method":"GET"}}]}`), "a", "jobs[0].actions[0].data.url", "required"},
		{"http bad url", job(`{"name":"a","actions":[{"type":"http_request","data":{"url":"ftp://x/y"}}]}`), "a", "jobs[0].actions[0].data.url", "http(s) URL"},
		{"http bad method", job(`{"name":"a","actions":[{"type":"http_request","data":{"url":"/x","method":"get me"}}]}`),
			"a", "jobs[0].actions[0].data.method", "not an HTTP method"},
		{"http bad status", job(`{"name":"a","actions":[{"type":"http_request","data":{"url":"/x","expectStatus":[200,1000]}}]}`),
			"a", "jobs[0].actions[0].data.expectStatus", "1000 is not an HTTP status code"},
		{"http unknown field", job(`{"name":"a","actions":[{"type":"http_request","data":{"url":"/x","expect":200}}]}`),
			"a", "jobs[0].actions[0].data.expect", "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.config))
			var errs ConfigErrors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse = %v, want ConfigErrors", err)
			}
			e := errs[0]
			if e.Job != tt.job || e.Field != tt.field || !strings.Contains(e.Problem, tt.problem) {
				t.Errorf("first error {job %q, field %q, problem %q}, want {%q, %q, …%q…}", e.Job, e.Field, e.Problem, tt.job, tt.field, tt.problem)
			}
			if tt.job != "" && !strings.Contains(err.Error(), `job "`+tt.job+`": `+tt.field+": ") {
				t.Errorf("message %q does not name the job and the field", err.Error())
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`{"jobs":[
	  {"name":"a","trigger":{"type":"weekly"},"actions":[{"type":"nope"}]},
	  {"name":"b","actions":[{"type":"get_bucket_status"}]},
	  {"name":"c","catchUp":"never","actions":[]}]}`))
	var errs ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse = %v", err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Job+" "+e.Field)
	}
	want := []string{"a jobs[0].trigger.type", "a jobs[0].actions[0].type", "c jobs[2].catchUp", "c jobs[2].actions"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"jobs":[{"name":"x","actions":[{"type":"send"}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `job "x": jobs[0].actions[0].type: unknown action type "send"`) {
		t.Errorf("Load = %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("Load of a missing file = %v", err)
	}
}
