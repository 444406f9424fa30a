package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/bridge"
	"corebridge/internal/ingest"

	"github.com/google/uuid"
)

// wantUpdateOK checks a 200 answer of /core/update for its exact seed field
// set and returns it.
func wantUpdateOK(t testing.TB, r response, module string, duplicate bool) map[string]any {
	t.Helper()
	r.want(t, http.StatusOK)
	m := r.object(t)
	want := []string{"message", "record_id", "session_id", "status", "timestamp"}
	if duplicate {
		want = []string{"duplicate", "message", "record_id", "session_id", "status", "timestamp"}
		if m["duplicate"] != true {
			t.Errorf("duplicate = %#v, want true", m["duplicate"])
		}
	}
	if got := keys(m); !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
	if m["status"] != "success" {
		t.Errorf("status = %#v, want success", m["status"])
	}
	if msg := wantString(t, m, "message"); msg != "Data received and logged for module "+module {
		t.Errorf("message = %q", msg)
	}
	if wantString(t, m, "record_id") == "" {
		t.Error("record_id is empty")
	}
	ts := wantString(t, m, "timestamp")
	if !strings.HasSuffix(ts, "Z") {
		t.Errorf("timestamp %q does not end in Z", ts)
	}
	if _, err := time.Parse(time.RFC3339, ts); err != nil {
		t.Errorf("timestamp %q is not RFC 3339: %v", ts, err)
	}
	wantString(t, m, "session_id")
	return m
}

func parseTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return tm
}

func TestUpdate(t *testing.T) {
	f := newFixture(t, api.Config{})
	now := f.clock.Now().Add(1234567 * time.Nanosecond)
	f.clock.Set(now)

	r := f.do(t, "POST", "/core/update", `{"module":"education","data":{ "lesson" : 3, "ok": true },"session_id":"sess-1","extra":"ignored"}`)
	m := wantUpdateOK(t, r, "education", false)
	if m["session_id"] != "sess-1" {
		t.Errorf("session_id = %#v, want sess-1 echoed", m["session_id"])
	}
	ts := parseTime(t, m["timestamp"].(string))
	if !ts.Equal(bridge.Truncate(now)) {
		t.Errorf("timestamp = %v, want acceptance time %v", ts, bridge.Truncate(now))
	}

	rec, err := f.store.Get(t.Context(), m["record_id"].(string))
	if err != nil {
		t.Fatalf("acknowledged record is not in the store: %v", err)
	}
	if rec.Module != "education" || rec.SessionID != "sess-1" || string(rec.Data) != `{"lesson":3,"ok":true}` ||
		rec.State != bridge.StatePending || !rec.ReceivedAt.Equal(ts) {
		t.Errorf("stored %+v (data %s)", rec, rec.Data)
	}
	if st := f.stats(t); st.Received != 1 || st.Pending != 1 {
		t.Errorf("stats = %+v, want 1 received and pending", st)
	}
}

func TestUpdateGeneratesSessionID(t *testing.T) {
	f := newFixture(t, api.Config{})
	seen := map[string]bool{}
	for _, tc := range []struct{ name, body string }{
		{"absent", `{"module":"m","data":{"a":1}}`},
		{"null", `{"module":"m","data":{"a":1},"session_id":null}`},
		{"empty", `{"module":"m","data":{"a":1},"session_id":""}`},
		{"absent again, same data", `{"module":"m","data":{"a":1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := wantUpdateOK(t, f.do(t, "POST", "/core/update", tc.body), "m", false)
			sid := m["session_id"].(string)
			if _, err := uuid.Parse(sid); err != nil {
				t.Errorf("session_id %q is not a UUID: %v", sid, err)
			}
			if seen[sid] {
				t.Errorf("session_id %q given twice", sid)
			}
			seen[sid] = true
			rec, err := f.store.Get(t.Context(), m["record_id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if rec.SessionID != sid {
				t.Errorf("stored session_id %q, answered %q", rec.SessionID, sid)
			}
		})
	}
	// Without a session there is nothing to tell a repeat from new data.
	if st := f.stats(t); st.Received != 4 {
		t.Errorf("received = %d, want 4", st.Received)
	}
}

func TestUpdateDuplicate(t *testing.T) {
	f := newFixture(t, api.Config{})
	t0 := f.clock.Now()
	first := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"m","session_id":"s","data":{"a":1,"b":[1,2]}}`), "m", false)

	f.clock.Set(t0.Add(time.Minute))
	// The same update, formatted differently and with fields reordered.
	again := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{ "data": {"a": 1, "b": [1, 2]}, "session_id": "s", "module": "m" }`), "m", true)
	for _, k := range []string{"record_id", "timestamp", "session_id"} {
		if again[k] != first[k] {
			t.Errorf("duplicate %s = %v, want the original's %v", k, again[k], first[k])
		}
	}
	if st := f.stats(t); st.Received != 1 {
		t.Errorf("received = %d, want the duplicate stored once", st.Received)
	}

	for _, tc := range []struct{ name, body string }{
		{"other data", `{"module":"m","session_id":"s","data":{"a":2,"b":[1,2]}}`},
		{"other session", `{"module":"m","session_id":"t","data":{"a":1,"b":[1,2]}}`},
		{"other module", `{"module":"n","session_id":"s","data":{"a":1,"b":[1,2]}}`},
	} {
		t.Run(tc.name+" is new", func(t *testing.T) {
			var module struct{ Module string }
			json.Unmarshal([]byte(tc.body), &module)
			m := wantUpdateOK(t, f.do(t, "POST", "/core/update", tc.body), module.Module, false)
			if m["record_id"] == first["record_id"] {
				t.Error("a different update got the original's record_id")
			}
		})
	}
	if st := f.stats(t); st.Received != 4 {
		t.Errorf("received = %d, want 4", st.Received)
	}
}

func TestUpdateIdempotencyKey(t *testing.T) {
	f := newFixture(t, api.Config{})
	first := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"m","data":{"v":1}}`, "Idempotency-Key", "key-1"), "m", false)
	// A resend without a session: the key makes it the same update (its
	// session is derived from the key, so it matches too).
	again := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"m","data":{"v":1}}`, "Idempotency-Key", "key-1"), "m", true)
	for _, k := range []string{"record_id", "timestamp", "session_id"} {
		if again[k] != first[k] {
			t.Errorf("repeat %s = %v, want the original's %v", k, again[k], first[k])
		}
	}
	rec, err := f.store.Get(t.Context(), first["record_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Data) != `{"v":1}` {
		t.Errorf("stored data %s, want the first's", rec.Data)
	}

	// Same content, same session, other keys: the keys say they differ.
	a := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"m","session_id":"s","data":{}}`, "Idempotency-Key", "key-2"), "m", false)
	b := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"m","session_id":"s","data":{}}`, "Idempotency-Key", "key-3"), "m", false)
	if a["record_id"] == b["record_id"] {
		t.Error("different idempotency keys were taken as one update")
	}
	if st := f.stats(t); st.Received != 3 {
		t.Errorf("received = %d, want 3", st.Received)
	}

	t.Run("key too long", func(t *testing.T) {
		r := f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`, "Idempotency-Key", strings.Repeat("k", 256))
		wantDetail(t, r, `["header","idempotency-key"]`, "string_too_long")
	})
}

// wantDetail checks a 422 in FastAPI's shape whose first entry has loc
// (as JSON) and type.
func wantDetail(t testing.TB, r response, loc, typ string) []any {
	t.Helper()
	r.want(t, http.StatusUnprocessableEntity)
	m := r.object(t)
	if got := keys(m); !slices.Equal(got, []string{"detail"}) {
		t.Errorf("fields = %v, want only detail", got)
	}
	detail, ok := m["detail"].([]any)
	if !ok || len(detail) == 0 {
		t.Fatalf("detail = %#v, want a non-empty list", m["detail"])
	}
	for i, d := range detail {
		e, ok := d.(map[string]any)
		if !ok {
			t.Fatalf("detail[%d] = %#v, want an object", i, d)
		}
		if got := keys(e); !slices.Equal(got, []string{"loc", "msg", "type"}) {
			t.Errorf("detail[%d] fields = %v, want loc, msg, type", i, got)
		}
		if l, ok := e["loc"].([]any); !ok || len(l) == 0 {
			t.Errorf("detail[%d].loc = %#v, want a non-empty list", i, e["loc"])
		}
		wantString(t, e, "msg")
		wantString(t, e, "type")
	}
	first := detail[0].(map[string]any)
	gotLoc, _ := json.Marshal(first["loc"])
	if string(gotLoc) != loc || first["type"] != typ {
		t.Errorf("detail[0] = loc %s type %v, want loc %s type %s", gotLoc, first["type"], loc, typ)
	}
	return detail
}

// invalidUpdates are bodies /core/update answers 422, with the first
// entry's loc and type. The ceiling server is checked against them too.
var invalidUpdates = []struct {
	name, body, loc, typ string
}{
	{"malformed JSON", `{"module":"m","data":{}`, `["body",23]`, "json_invalid"},
	{"malformed trailing comma", `{"module":"m","data":{},}`, `["body",25]`, "json_invalid"},
	{"invalid UTF-8", "{\"module\":\"m\",\"data\":{\"a\":\"\xff\"}}", `["body",27]`, "json_invalid"},
	{"empty body", ``, `["body"]`, "missing"},
	{"body is an array", `[{"module":"m","data":{}}]`, `["body"]`, "model_attributes_type"},
	{"body is a string", `"x"`, `["body"]`, "model_attributes_type"},
	{"body is null", `null`, `["body"]`, "model_attributes_type"},
	{"module missing", `{"data":{}}`, `["body","module"]`, "missing"},
	{"module not a string", `{"module":7,"data":{}}`, `["body","module"]`, "string_type"},
	{"module empty", `{"module":"","data":{}}`, `["body","module"]`, "string_too_short"},
	{"module pattern", `{"module":"-m","data":{}}`, `["body","module"]`, "string_pattern_mismatch"},
	{"module too long", `{"module":"` + strings.Repeat("m", 65) + `","data":{}}`, `["body","module"]`, "string_pattern_mismatch"},
	{"data missing", `{"module":"m"}`, `["body","data"]`, "missing"},
	{"data not an object", `{"module":"m","data":[1]}`, `["body","data"]`, "dict_type"},
	{"data null", `{"module":"m","data":null}`, `["body","data"]`, "dict_type"},
	{"session_id not a string", `{"module":"m","data":{},"session_id":1}`, `["body","session_id"]`, "string_type"},
	{"session_id too long", `{"module":"m","data":{},"session_id":"` + strings.Repeat("é", 129) + `"}`, `["body","session_id"]`, "string_too_long"},
	{"too deep", `{"module":"m","data":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, `["body",84]`, "json_too_deep"},
	{"several problems", `{"module":null,"session_id":[]}`, `["body","module"]`, "string_type"},
}

func TestUpdateInvalid(t *testing.T) {
	f := newFixture(t, api.Config{})
	for _, tc := range invalidUpdates {
		t.Run(tc.name, func(t *testing.T) {
			wantDetail(t, f.do(t, "POST", "/core/update", tc.body), tc.loc, tc.typ)
		})
	}
	t.Run("several problems all reported", func(t *testing.T) {
		d := wantDetail(t, f.do(t, "POST", "/core/update", `{"module":null,"session_id":[]}`), `["body","module"]`, "string_type")
		if len(d) != 3 {
			t.Errorf("got %d problems, want module, data and session_id: %v", len(d), d)
		}
	})
	if st := f.stats(t); st.Received != 0 {
		t.Errorf("invalid updates stored %d records", st.Received)
	}
	// Client mistakes are not server errors.
	m := f.do(t, "GET", "/core/health", "").object(t)
	if n := wantInt(t, m, "error_count_24h"); n != 0 {
		t.Errorf("error_count_24h = %d after 4xx only, want 0", n)
	}
}

func TestUpdateTooLarge(t *testing.T) {
	f := newFixture(t, api.Config{MaxBody: 200})
	pad := func(n int) string {
		b := `{"module":"m","data":{"p":""}}`
		return `{"module":"m","data":{"p":"` + strings.Repeat("x", n-len(b)) + `"}}`
	}
	// Exactly at the limit is accepted.
	wantUpdateOK(t, f.do(t, "POST", "/core/update", pad(200)), "m", false)

	r := f.do(t, "POST", "/core/update", pad(201))
	r.want(t, http.StatusRequestEntityTooLarge)
	wantErrorBody(t, r, bridge.ETOOLARGE)
	if st := f.stats(t); st.Received != 1 {
		t.Errorf("received = %d, want only the one at the limit", st.Received)
	}
}

// batchItem is one entry of a /core/updates answer.
type batchItem struct {
	RecordID  string `json:"record_id"`
	SessionID string `json:"session_id"`
	Timestamp string `json:"timestamp"`
	Duplicate bool   `json:"duplicate"`
}

type batchAnswer struct {
	Status     string      `json:"status"`
	Count      int         `json:"count"`
	Duplicates int         `json:"duplicates"`
	Results    []batchItem `json:"results"`
}

func wantBatchOK(t testing.TB, r response) batchAnswer {
	t.Helper()
	r.want(t, http.StatusOK)
	m := r.object(t)
	if got := keys(m); !slices.Equal(got, []string{"count", "duplicates", "results", "status"}) {
		t.Errorf("fields = %v", got)
	}
	for i, it := range m["results"].([]any) {
		if got := keys(it.(map[string]any)); !slices.Equal(got, []string{"duplicate", "record_id", "session_id", "timestamp"}) {
			t.Errorf("results[%d] fields = %v", i, got)
		}
	}
	var a batchAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatal(err)
	}
	if a.Status != "success" || a.Count != len(a.Results) {
		t.Errorf("answer = %+v", a)
	}
	return a
}

func TestBatch(t *testing.T) {
	f := newFixture(t, api.Config{})
	pre := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"m","session_id":"s0","data":{"i":0}}`), "m", false)

	for _, tc := range []struct{ name, wrap string }{
		{"wrapped", `{"updates":[%s]}`},
		{"bare", `[%s]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.stats(t).Received
			tag := tc.name
			items := []string{
				`{"module":"a","data":{"t":"` + tag + `"},"session_id":"s-` + tag + `"}`,
				`{"module":"b","data":{"t":"` + tag + `"}}`,
				`{"module":"m","session_id":"s0","data":{"i":0}}`,                        // stored before
				`{"module":"a","data":{"t":"` + tag + `"},"session_id":"s-` + tag + `"}`, // repeats item 0
				`{"module":"c","data":{},"idempotency_key":"k-` + tag + `"}`,
			}
			a := wantBatchOK(t, f.do(t, "POST", "/core/updates", fmt.Sprintf(tc.wrap, strings.Join(items, ","))))
			if a.Count != 5 || a.Duplicates != 2 {
				t.Fatalf("count %d duplicates %d, want 5 and 2", a.Count, a.Duplicates)
			}
			res := a.Results
			if res[0].SessionID != "s-"+tag || res[0].Duplicate {
				t.Errorf("item 0 = %+v", res[0])
			}
			if _, err := uuid.Parse(res[1].SessionID); err != nil || res[1].Duplicate {
				t.Errorf("item 1 = %+v, want a generated session id", res[1])
			}
			if res[2].RecordID != pre["record_id"] || res[2].Timestamp != pre["timestamp"] || !res[2].Duplicate {
				t.Errorf("item 2 = %+v, want duplicate of %v", res[2], pre["record_id"])
			}
			if res[3].RecordID != res[0].RecordID || !res[3].Duplicate {
				t.Errorf("item 3 = %+v, want duplicate of item 0 %s", res[3], res[0].RecordID)
			}
			for i, r := range res {
				if r.RecordID == "" || !strings.HasSuffix(r.Timestamp, "Z") {
					t.Errorf("item %d = %+v", i, r)
				}
				rec, err := f.store.Get(t.Context(), r.RecordID)
				if err != nil {
					t.Errorf("item %d not stored: %v", i, err)
				} else if rec.SessionID != r.SessionID {
					t.Errorf("item %d stored session %q, answered %q", i, rec.SessionID, r.SessionID)
				}
			}
			if got := f.stats(t).Received - before; got != 3 {
				t.Errorf("stored %d new records, want 3", got)
			}
		})
	}
}

func TestBatchInvalid(t *testing.T) {
	f := newFixture(t, api.Config{})
	wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`), "m", false)
	ok := `{"module":"m","data":{"x":1},"session_id":"s"}`
	many := strings.TrimSuffix(strings.Repeat(ok+",", 1001), ",")
	for _, tc := range []struct{ name, body, loc, typ string }{
		{"item module wrapped", `{"updates":[` + ok + `,` + ok + `,{"module":"-x","data":{}}]}`, `["body","updates",2,"module"]`, "string_pattern_mismatch"},
		{"item module bare", `[` + ok + `,` + ok + `,{"data":{}}]`, `["body",2,"module"]`, "missing"},
		{"item data", `{"updates":[` + ok + `,{"module":"m","data":"x"}]}`, `["body","updates",1,"data"]`, "dict_type"},
		{"item not an object", `{"updates":[1]}`, `["body","updates",0]`, "model_attributes_type"},
		{"no items", `{"updates":[]}`, `["body","updates"]`, "too_short"},
		{"updates missing", `{}`, `["body","updates"]`, "missing"},
		{"over 1000 items", `{"updates":[` + many + `]}`, `["body","updates"]`, "too_long"},
		{"over 1000 items bare", `[` + many + `]`, `["body"]`, "too_long"},
		{"malformed", `{"updates":[` + ok, `["body",58]`, "json_invalid"},
		{"empty", ``, `["body"]`, "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantDetail(t, f.do(t, "POST", "/core/updates", tc.body), tc.loc, tc.typ)
		})
	}
	if st := f.stats(t); st.Received != 1 {
		t.Errorf("received = %d, want 1: nothing of an invalid batch is stored", st.Received)
	}
}

func TestBatchTooLarge(t *testing.T) {
	f := newFixture(t, api.Config{MaxBatchBody: 300})
	item := `{"module":"m","data":{"p":"` + strings.Repeat("x", 100) + `"}}`
	wantBatchOK(t, f.do(t, "POST", "/core/updates", `[`+item+`,`+item+`]`))
	r := f.do(t, "POST", "/core/updates", `[`+item+`,`+item+`,`+item+`]`)
	r.want(t, http.StatusRequestEntityTooLarge)
	wantErrorBody(t, r, bridge.ETOOLARGE)
	if st := f.stats(t); st.Received != 2 {
		t.Errorf("received = %d, want 2", st.Received)
	}
}

func TestBackpressure(t *testing.T) {
	f := newFixtureWith(t, setup{ingest: ingest.Config{MaxPending: 5}})
	post := func(i int) response {
		return f.do(t, "POST", "/core/update", fmt.Sprintf(`{"module":"m","data":{"i":%d}}`, i))
	}
	for i := range 5 {
		wantUpdateOK(t, post(i), "m", false)
	}
	wantRefused := func(r response) {
		t.Helper()
		r.want(t, http.StatusServiceUnavailable)
		if ra := r.header.Get("Retry-After"); ra == "" {
			t.Error("503 without Retry-After")
		}
		wantErrorBody(t, r, bridge.EUNAVAILABLE)
	}
	wantRefused(post(5))
	if st := f.stats(t); st.Received != 5 || st.Pending != 5 {
		t.Fatalf("stats = %+v, want 5 received: the refused one is not stored", st)
	}

	// Two delivered: room for two more, not three. A batch that would
	// cross the bound is refused whole.
	f.settle(t, f.clock.Now(), 2, 2)
	item := func(i int) string { return fmt.Sprintf(`{"module":"m","data":{"b":%d}}`, i) }
	wantRefused(f.do(t, "POST", "/core/updates", `[`+item(1)+`,`+item(2)+`,`+item(3)+`]`))
	if st := f.stats(t); st.Received != 5 || st.Pending != 3 {
		t.Fatalf("stats = %+v, want nothing of the refused batch stored", st)
	}
	a := wantBatchOK(t, f.do(t, "POST", "/core/updates", `[`+item(1)+`,`+item(2)+`]`))
	if a.Count != 2 {
		t.Errorf("count = %d", a.Count)
	}
	wantRefused(post(6))
	if st := f.stats(t); st.Received != 7 || st.Pending != 5 {
		t.Errorf("stats = %+v, want 7 received, 5 pending", st)
	}

	// Refusals are the server's, not the client's: they count as errors,
	// one per update refused (1, a batch of 3, 1).
	m := f.do(t, "GET", "/core/health", "").object(t)
	if n := wantInt(t, m, "error_count_24h"); n != 5 {
		t.Errorf("error_count_24h = %d, want the 5 refused updates", n)
	}
	if n := wantInt(t, m, "ingest_errors_24h"); n != 5 {
		t.Errorf("ingest_errors_24h = %d, want 5", n)
	}
}

// While ingest refuses for a full queue, health says degraded and why,
// and /readyz answers 503 so that a load balancer sends producers
// elsewhere; both recover once an update is taken in again.
func TestQueueFullIsDegradedAndNotReady(t *testing.T) {
	f := newFixtureWith(t, setup{ingest: ingest.Config{MaxPending: 2}})
	post := func(i int) response {
		return f.do(t, "POST", "/core/update", fmt.Sprintf(`{"module":"m","data":{"i":%d}}`, i))
	}
	post(0).want(t, http.StatusOK)
	post(1).want(t, http.StatusOK)
	f.do(t, "GET", "/readyz", "").want(t, http.StatusOK)
	post(2).want(t, http.StatusServiceUnavailable)

	m := f.do(t, "GET", "/core/health", "").object(t)
	if m["status"] != "degraded" || !strings.Contains(fmt.Sprint(m["reasons"]), "queue is full") {
		t.Errorf("health while ingest refuses: %v %v, want degraded naming the full queue", m["status"], m["reasons"])
	}
	r := f.do(t, "GET", "/readyz", "")
	r.want(t, http.StatusServiceUnavailable)
	if !strings.Contains(string(r.body), "queue is full") {
		t.Errorf("/readyz while ingest refuses: %s", r.body)
	}

	// Delivered: room again. With no producer sending (a load balancer
	// sends none while /readyz says 503), it recovers by itself.
	f.settle(t, f.clock.Now(), 2, 2)
	f.do(t, "GET", "/readyz", "").want(t, http.StatusOK)
	post(3).want(t, http.StatusOK)
	if m := f.do(t, "GET", "/core/health", "").object(t); m["status"] != "ok" {
		t.Errorf("health after ingest accepts again: %v %v", m["status"], m["reasons"])
	}
	f.do(t, "GET", "/readyz", "").want(t, http.StatusOK)
}

// Replayed dead letters count towards --max-pending: after a replay takes
// the queue to the bound, the next update is refused.
func TestReplayCountsTowardsMaxPending(t *testing.T) {
	f := newFixtureWith(t, setup{ingest: ingest.Config{MaxPending: 3}})
	post := func(i int) response {
		return f.do(t, "POST", "/core/update", fmt.Sprintf(`{"module":"m","data":{"i":%d}}`, i))
	}
	for i := range 3 {
		post(i).want(t, http.StatusOK)
	}
	f.settle(t, f.clock.Now(), 3, 0) // all three dead: nothing pending
	post(3).want(t, http.StatusOK)   // pending 1
	f.do(t, "POST", "/api/dead-letters/replay", `{"all":true}`).want(t, http.StatusOK)
	if st := f.stats(t); st.Pending != 4 {
		t.Fatalf("pending %d after the replay, want 4", st.Pending)
	}
	post(4).want(t, http.StatusServiceUnavailable)
	if st := f.stats(t); st.Pending != 4 {
		t.Errorf("pending %d, want 4: nothing taken in past --max-pending", st.Pending)
	}
}
