package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/buckettest"
	"corebridge/internal/bucket/server"
)

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func TestServerRefusesBadBodies(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	url := run.URL + "/v1/records"
	for _, tc := range []struct {
		name   string
		body   string
		status int
	}{
		{"empty", ``, http.StatusBadRequest},
		{"malformed", `{"records":[`, http.StatusBadRequest},
		{"trailing garbage", `{"records":[]} x`, http.StatusBadRequest},
		{"not an object", `[{"id":"a"}]`, http.StatusBadRequest},
		{"records missing", `{"recs":[]}`, http.StatusBadRequest},
		{"records null", `{"records":null}`, http.StatusBadRequest},
		{"records an object", `{"records":{"id":"a"}}`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := post(t, url, []byte(tc.body))
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			e := decode[map[string]string](t, body)
			if e["error"] == "" || e["code"] != "invalid" {
				t.Errorf("error body %s, want {error, code: invalid}", body)
			}
		})
	}
	if st, _ := run.Store.Stats(t.Context()); st.Total != 0 {
		t.Errorf("refused bodies stored %d records", st.Total)
	}
}

func TestServerBodyLimit(t *testing.T) {
	t.Run("default 16 MiB", func(t *testing.T) {
		run := buckettest.Start(t, server.Config{})
		pad := strings.Repeat("x", server.MaxBody)
		body := []byte(`{"records":[{"id":"big","module":"m","data":{"pad":"` + pad + `"}}]}`)
		status, _, answer := post(t, run.URL+"/v1/records", body)
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413: %.200s", status, answer)
		}
		if e := decode[map[string]string](t, answer); e["code"] != "too_large" || e["error"] == "" {
			t.Errorf("error body %s", answer)
		}
	})

	// A small limit shows the boundary, with and without Content-Length.
	const limit = 1000
	hs := httptest.NewServer(server.NewServer(openStore(t), nil, server.ServerConfig{MaxBody: limit}))
	defer hs.Close()
	sized := func(n int) []byte {
		head, tail := `{"records":[{"id":"a","module":"m","data":{"p":"`, `"}}]}`
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"at the limit", limit, false, 200},
		{"one byte over", limit + 1, false, 413},
		{"at the limit chunked", limit, true, 200},
		{"one byte over chunked", limit + 1, true, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(sized(tc.size))
			if tc.chunked {
				r = io.MultiReader(r) // hides the length: sent chunked
			}
			resp, err := http.Post(hs.URL+"/v1/records", "application/json", r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				b, _ := io.ReadAll(resp.Body)
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
		})
	}
}

// postExpecting posts body to /v1/records and checks that it is answered
// 200 with one result per record, of these ids and statuses, and that a
// result carries an error exactly when it is rejected.
func postExpecting(t *testing.T, url, body string, wantIDs, wantStatus []string) []bucket.Result {
	t.Helper()
	status, _, answer := post(t, url+"/v1/records", []byte(body))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, answer)
	}
	got := decode[bucket.Response](t, answer).Results
	if len(got) != len(wantIDs) {
		t.Fatalf("%d results, want %d: %s", len(got), len(wantIDs), answer)
	}
	for i, r := range got {
		if r.ID != wantIDs[i] || r.Status != wantStatus[i] {
			t.Errorf("result %d = %+v, want id %q %s", i, r, wantIDs[i], wantStatus[i])
		}
		if (r.Status == bucket.StatusRejected) != (r.Error != "") {
			t.Errorf("result %d: status %s with error %q", i, r.Status, r.Error)
		}
	}
	return got
}

// TestServerRejectsBadRecordsOfAWellTypedBody: a body that decodes whole
// (no field of the wrong type) takes the one-pass path; its invalid records
// are still rejected one by one.
func TestServerRejectsBadRecordsOfAWellTypedBody(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	body := `{"records":[
		{"id":"ok1","module":"edu","session_id":"s","data":{"a":1},"received_at":"2026-11-29T14:00:00.000000Z"},
		{"id":"","module":"edu","data":{}},
		{"id":"nomod","data":{}},
		{"id":"arr","module":"edu","data":[1,2]},
		{"id":"str","module":"edu","data":"{}"},
		{"id":"null","module":"edu","data":null},
		{"id":"nodata","module":"edu"},
		{"id":"ok2","module":"fin","data": {"b":[2]}, "extra": true}
	]}`
	got := postExpecting(t, run.URL, body,
		[]string{"ok1", "", "nomod", "arr", "str", "null", "nodata", "ok2"},
		[]string{"stored", "rejected", "rejected", "rejected", "rejected", "rejected", "rejected", "stored"})
	if !strings.Contains(got[3].Error, "data must be a JSON object") || !strings.Contains(got[2].Error, "module") {
		t.Errorf("reasons do not say what is wrong: %q, %q", got[3].Error, got[2].Error)
	}
}

func TestServerRejectsBadRecordsOneByOne(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	body := `{"records":[
		{"id":"ok1","module":"edu","session_id":"s","data":{"a":1},"received_at":"2026-11-29T14:00:00.000000Z"},
		{"id":"","module":"edu","data":{}},
		{"module":"edu","data":{}},
		{"id":"nomod","data":{}},
		{"id":"arr","module":"edu","data":[1,2]},
		{"id":"str","module":"edu","data":"{}"},
		{"id":"null","module":"edu","data":null},
		{"id":"nodata","module":"edu"},
		{"id":"numod","module":7,"data":{}},
		42,
		{"id":"ok2","module":"fin","data":{ "b" : [ 2 ] }}
	]}`
	got := postExpecting(t, run.URL, body,
		[]string{"ok1", "", "", "nomod", "arr", "str", "null", "nodata", "numod", "", "ok2"},
		[]string{"stored", "rejected", "rejected", "rejected", "rejected", "rejected", "rejected", "rejected", "rejected", "rejected", "stored"})
	if !strings.Contains(got[4].Error, "data must be a JSON object") || !strings.Contains(got[3].Error, "module") {
		t.Errorf("reasons do not say what is wrong: %q, %q", got[4].Error, got[3].Error)
	}

	// The good records are there, with their content.
	code, page := get(t, run.URL+"/v1/records")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/records: %d %s", code, page)
	}
	p := decode[bucket.Page](t, page)
	if len(p.Records) != 2 || p.Records[0].ID != "ok1" || p.Records[1].ID != "ok2" || p.NextAfter != "ok2" {
		t.Fatalf("records = %s", page)
	}
	if r := p.Records[0]; r.SessionID != "s" || string(r.Data) != `{"a":1}` || r.ReceivedAt != "2026-11-29T14:00:00.000000Z" || r.StoredAt == "" {
		t.Errorf("ok1 read back as %+v", r)
	}
	// encoding/json compacts raw values as it writes them.
	if d := string(p.Records[1].Data); d != `{"b":[2]}` {
		t.Errorf("ok2 data %q, want the same JSON, compacted", d)
	}
}

func TestServerEmptyBatch(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	status, _, answer := post(t, run.URL+"/v1/records", []byte(`{"records":[]}`))
	if status != http.StatusOK || strings.TrimSpace(string(answer)) != `{"results":[]}` {
		t.Errorf("empty batch: %d %s", status, answer)
	}
}

func TestServerRejectModule(t *testing.T) {
	run := buckettest.Start(t, server.Config{Faults: server.Faults{RejectModule: "fin"}})
	body := mustJSON(t, bucket.Request{Records: []bucket.Record{rec("e1", "edu"), rec("f1", "fin"), rec("e2", "edu")}})
	status, _, answer := post(t, run.URL+"/v1/records", body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, answer)
	}
	want := []bucket.Result{
		{ID: "e1", Status: "stored"},
		{ID: "f1", Status: "rejected", Error: "module fin is rejected by this bucket (fault injection)"},
		{ID: "e2", Status: "stored"},
	}
	if got := decode[bucket.Response](t, answer).Results; !reflect.DeepEqual(got, want) {
		t.Fatalf("results = %+v, want %+v", got, want)
	}

	// Lifted at run time, the same record is taken.
	run.Server.SetFaults(server.Faults{})
	_, _, answer = post(t, run.URL+"/v1/records", body)
	if got := buckettest.Statuses(decode[bucket.Response](t, answer).Results); !reflect.DeepEqual(got, []string{"duplicate", "stored", "duplicate"}) {
		t.Errorf("after lifting the rejection: %v", got)
	}
}

func TestServerListQueries(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	if _, err := run.Store.Put(t.Context(), append(recs("e", "edu", 3), recs("f", "fin", 2)...)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query  string
		status int
		ids    []string
		next   string
	}{
		{"", 200, []string{"e-0", "e-1", "e-2", "f-0", "f-1"}, "f-1"},
		{"?limit=2", 200, []string{"e-0", "e-1"}, "e-1"},
		{"?limit=2&after=e-1", 200, []string{"e-2", "f-0"}, "f-0"},
		{"?module=fin", 200, []string{"f-0", "f-1"}, "f-1"},
		{"?module=fin&after=f-1", 200, []string{}, ""},
		{"?limit=99999", 200, []string{"e-0", "e-1", "e-2", "f-0", "f-1"}, "f-1"},
		{"?limit=0", 400, nil, ""},
		{"?limit=-1", 400, nil, ""},
		{"?limit=ten", 400, nil, ""},
		{"?after=nope", 400, nil, ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			status, body := get(t, run.URL+"/v1/records"+tc.query)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if status != 200 {
				return
			}
			p := decode[bucket.Page](t, body)
			ids := []string{}
			for _, r := range p.Records {
				ids = append(ids, r.ID)
			}
			if !reflect.DeepEqual(ids, tc.ids) || p.NextAfter != tc.next {
				t.Errorf("ids %v next %q, want %v next %q", ids, p.NextAfter, tc.ids, tc.next)
			}
			if p.Records == nil {
				t.Errorf("records is null in %s, want []", body)
			}
		})
	}

	status, body := get(t, run.URL+"/v1/stats")
	if status != 200 || strings.TrimSpace(string(body)) != `{"total":5,"modules":{"edu":3,"fin":2}}` {
		t.Errorf("stats: %d %s", status, body)
	}
	status, body = get(t, run.URL+"/healthz")
	if status != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("healthz: %d %s", status, body)
	}
}

func TestServerFailRateAll(t *testing.T) {
	run := buckettest.Start(t, server.Config{Faults: server.Faults{FailRate: 1}})
	body := mustJSON(t, bucket.Request{Records: recs("a", "edu", 3)})
	for range 3 {
		status, retryAfter, answer := post(t, run.URL+"/v1/records", body)
		if status != http.StatusServiceUnavailable || retryAfter != "1" {
			t.Fatalf("status %d Retry-After %q, want 503 and 1: %s", status, retryAfter, answer)
		}
	}
	if st, _ := run.Store.Stats(t.Context()); st.Total != 0 {
		t.Fatalf("a failed request stored %d records", st.Total)
	}
	// Reads and health stay up: only deliveries fail.
	if status, _ := get(t, run.URL+"/healthz"); status != 200 {
		t.Errorf("healthz under fail rate 1: %d", status)
	}
	// The outage ends without a restart.
	run.Server.SetFaults(server.Faults{})
	if status, _, answer := post(t, run.URL+"/v1/records", body); status != 200 {
		t.Fatalf("after the outage: %d %s", status, answer)
	}
	if st, _ := run.Store.Stats(t.Context()); st.Total != 3 {
		t.Errorf("stored %d after the outage, want 3", st.Total)
	}
}

func TestServerFailRatePartial(t *testing.T) {
	// The rolls are scripted: with rate 0.5, rolls below 0.5 fail.
	var mu sync.Mutex
	rolls := []float64{0.1, 0.9, 0.49, 0.5, 0.7, 0.0}
	run := buckettest.Start(t, server.Config{Faults: server.Faults{FailRate: 0.5}, Rand: func() float64 {
		mu.Lock()
		defer mu.Unlock()
		r := rolls[0]
		rolls = rolls[1:]
		return r
	}})
	var got []int
	for i := range 6 {
		status, _, _ := post(t, run.URL+"/v1/records", mustJSON(t, bucket.Request{Records: []bucket.Record{rec(fmt.Sprint(i), "edu")}}))
		got = append(got, status)
	}
	if want := []int{503, 200, 503, 200, 200, 503}; !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if st, _ := run.Store.Stats(t.Context()); st.Total != 3 {
		t.Errorf("stored %d, want the 3 that passed", st.Total)
	}
}

func TestServerLatency(t *testing.T) {
	const latency = 200 * time.Millisecond
	run := buckettest.Start(t, server.Config{Faults: server.Faults{Latency: latency}})
	body := mustJSON(t, bucket.Request{Records: recs("l", "edu", 2)})
	start := time.Now()
	status, _, _ := post(t, run.URL+"/v1/records", body)
	if took := time.Since(start); status != 200 || took < latency {
		t.Errorf("POST answered %d after %v, want 200 after at least %v", status, took, latency)
	}
	// The delay applies to injected failures too, and not to reads.
	run.Server.SetFaults(server.Faults{Latency: latency, FailRate: 1})
	start = time.Now()
	status, _, _ = post(t, run.URL+"/v1/records", body)
	if took := time.Since(start); status != 503 || took < latency {
		t.Errorf("failing POST answered %d after %v, want 503 after at least %v", status, took, latency)
	}
	if got := run.Server.Faults(); got.Latency != latency || got.FailRate != 1 {
		t.Errorf("Faults() = %+v", got)
	}
}

func TestFaultsValidate(t *testing.T) {
	for _, tc := range []struct {
		f  server.Faults
		ok bool
	}{
		{server.Faults{}, true},
		{server.Faults{FailRate: 1, Latency: time.Second, RejectModule: "m"}, true},
		{server.Faults{FailRate: -0.1}, false},
		{server.Faults{FailRate: 1.1}, false},
		{server.Faults{Latency: -time.Second}, false},
	} {
		if err := tc.f.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.f, err, tc.ok)
		}
	}
}
