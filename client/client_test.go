package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func readJSON(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		t.Errorf("request body: %v", err)
	}
	return m
}

func TestUpdate(t *testing.T) {
	var got map[string]any
	var hdr http.Header
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/core/update" {
			t.Errorf("request %s %s, want POST /core/update", r.Method, r.URL.Path)
		}
		hdr = r.Header.Clone()
		got = readJSON(t, r)
		io.WriteString(w, `{"status":"success","timestamp":"2026-11-03T10:00:00.123Z","session_id":"s-1",
			"message":"Data received and logged for module education","record_id":"r-9","duplicate":true}`)
	})
	c := New(srv.URL+"/", WithToken("sekret"))
	resp, err := c.Update(context.Background(), UpdateRequest{
		Module:         "education",
		Data:           json.RawMessage(`{"score": 91}`),
		SessionID:      "s-1",
		IdempotencyKey: "k-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := UpdateResponse{Status: "success", Timestamp: "2026-11-03T10:00:00.123Z", SessionID: "s-1",
		Message: "Data received and logged for module education", RecordID: "r-9", Duplicate: true}
	if resp != want {
		t.Errorf("response %+v, want %+v", resp, want)
	}
	wantBody := map[string]any{"module": "education", "data": map[string]any{"score": 91.0}, "session_id": "s-1"}
	if !reflect.DeepEqual(got, wantBody) {
		t.Errorf("body %v, want %v (the idempotency key goes in the header)", got, wantBody)
	}
	for k, v := range map[string]string{"Authorization": "Bearer sekret", "Idempotency-Key": "k-1", "Content-Type": "application/json"} {
		if hdr.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, hdr.Get(k), v)
		}
	}
}

func TestUpdateWithoutTokenOrSession(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["Authorization"]; ok {
			t.Errorf("Authorization header sent without a token")
		}
		if _, ok := r.Header["Idempotency-Key"]; ok {
			t.Errorf("Idempotency-Key header sent without a key")
		}
		if body := readJSON(t, r); len(body) != 2 || body["session_id"] != nil {
			t.Errorf("body %v, want only module and data", body)
		}
		io.WriteString(w, `{"status":"success","session_id":"generated"}`)
	})
	resp, err := New(srv.URL).Update(context.Background(), UpdateRequest{Module: "finance", Data: map[string]int{"amount": 3}})
	if err != nil || resp.SessionID != "generated" {
		t.Fatalf("Update = %+v, %v", resp, err)
	}
}

func TestUpdates(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/core/updates" {
			t.Errorf("request %s %s, want POST /core/updates", r.Method, r.URL.Path)
		}
		want := map[string]any{"updates": []any{
			map[string]any{"module": "a", "data": map[string]any{"n": 1.0}, "session_id": "s1", "idempotency_key": "k1"},
			map[string]any{"module": "b", "data": map[string]any{}},
		}}
		if got := readJSON(t, r); !reflect.DeepEqual(got, want) {
			t.Errorf("body %v, want %v", got, want)
		}
		io.WriteString(w, `{"results":[{"record_id":"r1","session_id":"s1","timestamp":"t1","duplicate":false},
			{"record_id":"r2","session_id":"gen","timestamp":"t2","duplicate":true}]}`)
	})
	resp, err := New(srv.URL).Updates(context.Background(), []UpdateRequest{
		{Module: "a", Data: json.RawMessage(`{"n":1}`), SessionID: "s1", IdempotencyKey: "k1"},
		{Module: "b", Data: struct{}{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := BatchResponse{Results: []BatchResult{
		{RecordID: "r1", SessionID: "s1", Timestamp: "t1"},
		{RecordID: "r2", SessionID: "gen", Timestamp: "t2", Duplicate: true},
	}}
	if !reflect.DeepEqual(resp, want) {
		t.Errorf("response %+v, want %+v", resp, want)
	}
}

func TestBucketStatusAndHealth(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("method %s, want GET", r.Method)
		}
		switch r.URL.Path {
		case "/bucket/status":
			io.WriteString(w, `{"last_sync_time":"2026-11-03T10:00:00Z","total_sync_count":42,
				"module_sync_counts":{"education":40,"robotics":2},"dead_count":1}`)
		case "/core/health":
			io.WriteString(w, `{"status":"degraded","uptime_s":12.5,"last_sync_ts":"x","pending_queue":7,
				"error_count_24h":3,"avg_latency_ms_24h":4.25,"breaker":"open"}`)
		default:
			http.NotFound(w, r)
		}
	})
	c := New(srv.URL)
	st, err := c.BucketStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantSt := BucketStatus{LastSyncTime: "2026-11-03T10:00:00Z", TotalSyncCount: 42,
		ModuleSyncCounts: map[string]int64{"education": 40, "robotics": 2},
		Extra:            map[string]json.RawMessage{"dead_count": json.RawMessage("1")}}
	if !reflect.DeepEqual(st, wantSt) {
		t.Errorf("status %+v, want %+v", st, wantSt)
	}
	h, err := c.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantH := Health{Status: "degraded", UptimeS: 12.5, LastSyncTS: "x", PendingQueue: 7, ErrorCount24h: 3,
		AvgLatencyMs24h: 4.25, Extra: map[string]json.RawMessage{"breaker": json.RawMessage(`"open"`)}}
	if !reflect.DeepEqual(h, wantH) {
		t.Errorf("health %+v, want %+v", h, wantH)
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		want       APIError // Method, Path, StatusCode and Body are filled in
		wantString string
	}{
		{
			name:   "validation",
			status: 422,
			body:   `{"detail":[{"loc":["body","module"],"msg":"Field required","type":"missing"},{"loc":["body","updates",3,"data"],"msg":"Input should be a valid dictionary","type":"dict_type"}]}`,
			want: APIError{
				Message: "body.module: Field required; body.updates[3].data: Input should be a valid dictionary",
				Details: []FieldError{
					{Loc: []any{"body", "module"}, Msg: "Field required", Type: "missing"},
					{Loc: []any{"body", "updates", 3.0, "data"}, Msg: "Input should be a valid dictionary", Type: "dict_type"},
				},
			},
			wantString: "corebridge: POST /core/update: 422 Unprocessable Entity: body.module: Field required; body.updates[3].data: Input should be a valid dictionary",
		},
		{
			name:       "unavailable with delay seconds",
			status:     503,
			header:     map[string]string{"Retry-After": "3"},
			body:       `{"error":{"code":"unavailable","message":"queue full"}}`,
			want:       APIError{Code: "unavailable", Message: "queue full", RetryAfter: 3 * time.Second},
			wantString: "corebridge: POST /core/update: 503 Service Unavailable: queue full",
		},
		{name: "unauthorized", status: 401, body: `{"error":{"code":"unauthorized","message":"no token"}}`,
			want: APIError{Code: "unauthorized", Message: "no token"}},
		{name: "string detail", status: 413, body: `{"detail":"Request body too large"}`,
			want: APIError{Message: "Request body too large"}},
		{
			name:   "not JSON",
			status: 502,
			body:   "<html>\n<h1>502 Bad Gateway</h1>\n</html>",
			want:   APIError{Message: "<html> <h1>502 Bad Gateway</h1> </html>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := New(srv.URL).Update(context.Background(), UpdateRequest{Module: "m", Data: map[string]any{}})
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want *APIError", err, err)
			}
			want := tt.want
			want.Method, want.Path, want.StatusCode, want.Body = "POST", "/core/update", tt.status, []byte(tt.body)
			if !reflect.DeepEqual(*ae, want) {
				t.Errorf("error\n%#v\nwant\n%#v", *ae, want)
			}
			if tt.wantString != "" && ae.Error() != tt.wantString {
				t.Errorf("Error() = %q, want %q", ae.Error(), tt.wantString)
			}
		})
	}
}

func TestBadResponse(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	_, err := New(srv.URL).Update(context.Background(), UpdateRequest{Module: "m", Data: map[string]any{}})
	if !errors.Is(err, ErrBadResponse) {
		t.Fatalf("error %v, want ErrBadResponse", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{"-5", 0},
		{"Tue, 03 Nov 2026 10:00:30 GMT", 30 * time.Second},
		{"Tue, 03 Nov 2026 09:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestConnectionReuse checks that concurrent requests share a pool of
// keep-alive connections no larger than WithMaxConns, even when the server
// answers errors with bodies the caller never reads.
func TestConnectionReuse(t *testing.T) {
	const workers, perWorker = 8, 40
	var conns, calls atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"code":"unavailable","message":"busy"}}`)
			return
		}
		io.WriteString(w, `{"status":"success"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	c := New(srv.URL, WithMaxConns(workers))
	tr := c.hc.Transport.(*http.Transport)
	if tr.MaxIdleConnsPerHost != workers || tr.MaxConnsPerHost != workers {
		t.Errorf("transport idle/conns per host = %d/%d, want %d", tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost, workers)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				_, err := c.Update(context.Background(), UpdateRequest{Module: "m", Data: map[string]any{}})
				var ae *APIError
				if err != nil && !errors.As(err, &ae) {
					t.Errorf("Update: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if n := conns.Load(); n > workers {
		t.Errorf("%d connections opened for %d workers: keep-alive connections are not reused", n, workers)
	}
}
