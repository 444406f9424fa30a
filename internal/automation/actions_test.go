package automation

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestEveryActionType(t *testing.T) {
	f := newFakeBridge(t)
	var hookMu sync.Mutex
	var hook *http.Request
	var hookBody string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hook, hookBody = r.Clone(context.Background()), string(b)
		hookMu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "queued")
	}))
	t.Cleanup(other.Close)
	cfg := mustParse(t, `{"jobs":[{"name":"all","actions":[
	  {"type":"send_batch","data":{"updates":[{"module":"a","data":{"n":1}},{"module":"b","data":{"n":2},"session_id":"s-b"}]}},
	  {"type":"replay_dead_letters","data":{"module":"finance"}},
	  {"type":"get_bucket_status","data":{"assert":["module_sync_counts.education >= 2","dead_count == 0"]}},
	  {"type":"check_health","data":{"assert":["breaker == closed","pending_queue < 100"]}},
	  {"type":"http_request","data":{"url":"/core/health"}},
	  {"type":"http_request","data":{"method":"POST","url":"`+other.URL+`/hook","headers":{"X-Source":"corebridge"},"body":{"event":"synced"},"expectStatus":202}},
	  {"type":"http_request","data":{"url":"/nope","expectStatus":[404]}}
	]}]}`)
	r := New(cfg, Options{APIURL: f.URL, Token: "tok", Clock: newFakeClock(t0)})
	rep, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	j := rep.Jobs[0]
	if j.Status != StatusOK || len(j.Actions) != 7 {
		t.Fatalf("job %+v with %d actions, want ok with 7", j.RunRecord, len(j.Actions))
	}
	seen := f.seen()
	wantPaths := []string{"/core/updates", "/api/dead-letters/replay", "/bucket/status", "/core/health", "/core/health", "/nope"}
	if got := f.paths(); strings.Join(got, " ") != strings.Join(wantPaths, " ") {
		t.Fatalf("bridge saw %v, want %v", got, wantPaths)
	}
	for _, s := range seen {
		if s.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("%s %s without the token", s.Method, s.Path)
		}
	}
	var batch struct {
		Updates []map[string]any `json:"updates"`
	}
	if err := json.Unmarshal([]byte(seen[0].Body), &batch); err != nil || len(batch.Updates) != 2 {
		t.Fatalf("batch body %s", seen[0].Body)
	}
	k0, k1 := batch.Updates[0]["idempotency_key"], batch.Updates[1]["idempotency_key"]
	if k0 == nil || k0 == "" || k0 == k1 || batch.Updates[1]["session_id"] != "s-b" {
		t.Errorf("batch updates %v: want a distinct idempotency key each and the session id kept", batch.Updates)
	}
	if seen[1].Body != `{"module":"finance"}` {
		t.Errorf("replay body %s", seen[1].Body)
	}
	if got := string(mustJSON(t, j.Actions[1].Response.Body)); got != `{"replayed":7}` {
		t.Errorf("replay response %s", got)
	}

	hookMu.Lock()
	defer hookMu.Unlock()
	if hook == nil || hook.Method != "POST" || hook.Header.Get("X-Source") != "corebridge" ||
		hook.Header.Get("Content-Type") != "application/json" || hookBody != `{"event":"synced"}` {
		t.Errorf("hook got %v %q", hook, hookBody)
	}
	if hook != nil && hook.Header.Get("Authorization") != "" {
		t.Error("the bridge's token was sent to another host")
	}
	if resp := j.Actions[5].Response; resp.StatusCode != 202 || resp.Body != "queued" {
		t.Errorf("hook response %+v", resp)
	}
}

func TestHTTPRequestUnexpectedStatus(t *testing.T) {
	f := newFakeBridge(t)
	rep, slept := runOnceAuto(t, f, `{"jobs":[{"name":"h","actions":[{"type":"http_request","data":{"url":"/missing"}}]}]}`, noJitter)
	j := rep.Jobs[0]
	if j.Status != StatusFailed || !strings.Contains(j.Reason, "GET /missing: answered 404 Not Found, want a 2xx status") || len(slept) != 0 {
		t.Errorf("job %+v, waits %v; want failed once on the 404", j.RunRecord, slept)
	}
	f.answer = failWith(503)
	rep, slept = runOnceAuto(t, f, `{"jobs":[{"name":"h","actions":[{"type":"http_request","data":{"url":"/x"}}]}]}`, noJitter)
	if a := rep.Jobs[0].Actions[0]; len(a.Attempts) != 3 || len(slept) != 2 || a.Response.StatusCode != 503 {
		t.Errorf("on 503: attempts %+v, waits %v; want 3 attempts", a.Attempts, slept)
	}
}
