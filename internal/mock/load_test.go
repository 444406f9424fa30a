package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

func TestLoadCountsRequestsAndErrors(t *testing.T) {
	const requests = 400
	// Every 10th request is refused, as a bridge under backpressure would.
	f := newFakeBridge(t, func(n int, _ bridge.Update) int {
		if n%10 == 0 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	var out bytes.Buffer
	res, err := Load(context.Background(), LoadConfig{URL: f.URL, Token: "tok", Connections: 8, Requests: requests, Seed: 1}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.requests(); got != requests {
		t.Errorf("bridge received %d requests, want %d", got, requests)
	}
	if dups := f.duplicateSessions(); len(dups) > 0 {
		t.Errorf("session_ids sent more than once or empty: %v", dups)
	}
	for _, m := range DefaultModules() {
		if f.modules[m] != requests/4 {
			t.Errorf("module %s got %d requests, want %d", m, f.modules[m], requests/4)
		}
	}
	if f.auth["Bearer tok"] != requests {
		t.Errorf("Authorization headers %v, want Bearer tok on every request", f.auth)
	}
	if f.load["1"] != requests {
		t.Errorf("Corebridge-Load-Test headers %v, want 1 on every request (silence learns nothing from a load test)", f.load)
	}
	if res.Requests != requests || res.OK != requests*9/10 || res.StatusErrors[503] != requests/10 || res.Errors() != requests/10 {
		t.Errorf("result: requests %d ok %d statuses %v errors %d, want %d, %d, 503: %d",
			res.Requests, res.OK, res.StatusErrors, res.Errors(), requests, requests*9/10, requests/10)
	}
	if res.NetworkErrors+res.Timeouts+res.BadResponses != 0 || res.Interrupted {
		t.Errorf("result %+v: unexpected network errors, timeouts or interruption", res)
	}
	l := res.Latency
	if l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max || l.Mean <= 0 {
		t.Errorf("latencies out of order: %+v", l)
	}
	for _, s := range []string{"requests: 400 in", "ok 360", "p99", "errors:   40 (503: 40)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, out.String())
		}
	}

	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Requests     int64              `json:"requests"`
		Errors       int64              `json:"errors"`
		RPS          float64            `json:"rps"`
		OKRPS        float64            `json:"ok_rps"`
		LatencyMs    map[string]float64 `json:"latency_ms"`
		StatusErrors map[string]int64   `json:"status_errors"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	if j.Requests != requests || j.Errors != requests/10 || j.RPS <= 0 || !(j.OKRPS > 0 && j.OKRPS < j.RPS) || j.LatencyMs["p99"] <= 0 || j.StatusErrors["503"] != requests/10 {
		t.Errorf("JSON form %s", b)
	}
}

func TestLoadDurationBound(t *testing.T) {
	f := newFakeBridge(t, nil)
	res, err := Load(context.Background(), LoadConfig{URL: f.URL, Connections: 4, Duration: 100 * time.Millisecond}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Requests != int64(f.requests()) || res.OK != res.Requests {
		t.Errorf("result %d requests (%d ok), bridge saw %d", res.Requests, res.OK, f.requests())
	}
	if res.Duration < 100*time.Millisecond {
		t.Errorf("stopped after %v, before the 100ms bound", res.Duration)
	}
}

func TestLoadNetworkErrorsAndTimeouts(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ln.Close()
		res, err := Load(context.Background(), LoadConfig{URL: url, Connections: 2, Requests: 10}, new(bytes.Buffer))
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 10 || res.NetworkErrors != 10 || res.Latency.Max != 0 {
			t.Errorf("result %+v, want 10 network errors and no latencies", res)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) }) // runs first: lets srv.Close finish
		res, err := Load(context.Background(), LoadConfig{URL: srv.URL, Connections: 2, Requests: 4, Timeout: 20 * time.Millisecond}, new(bytes.Buffer))
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 4 || res.Timeouts != 4 {
			t.Errorf("result %+v, want 4 timeouts", res)
		}
	})
}

func TestLoadInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFakeBridge(t, func(n int, _ bridge.Update) int {
		if n == 50 {
			cancel()
		}
		return 0
	})
	res, err := Load(ctx, LoadConfig{URL: f.URL, Connections: 4, Duration: time.Hour}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Requests < 1 || res.Requests > int64(f.requests()) || res.Errors() != 0 {
		t.Errorf("result %+v (bridge saw %d): want interrupted, no errors from cancellation", res, f.requests())
	}
}

func TestLoadConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  LoadConfig
		want string
	}{
		{"no url", LoadConfig{Connections: 1, Requests: 1}, "no URL"},
		{"no connections", LoadConfig{URL: "http://x", Requests: 1}, "connections"},
		{"no bound", LoadConfig{URL: "http://x", Connections: 1}, "duration"},
		{"negative", LoadConfig{URL: "http://x", Connections: 1, Requests: -1}, "negative"},
		{"bad module", LoadConfig{URL: "http://x", Connections: 1, Requests: 1, Modules: []string{"no spaces"}}, "invalid module"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), tt.cfg, new(bytes.Buffer))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestLatencyOf(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := latencyOf(d)
	want := Latency{P50: 100 * time.Millisecond, P95: 190 * time.Millisecond, P99: 198 * time.Millisecond,
		Max: 200 * time.Millisecond, Mean: 100500 * time.Microsecond}
	if got != want {
		t.Errorf("latencyOf(1..200 ms) = %+v, want %+v", got, want)
	}
	if one := latencyOf([]time.Duration{time.Second}); one.P50 != time.Second || one.P99 != time.Second {
		t.Errorf("latencyOf of one = %+v", one)
	}
	if (latencyOf(nil) != Latency{}) {
		t.Errorf("latencyOf(nil) not zero")
	}
}
