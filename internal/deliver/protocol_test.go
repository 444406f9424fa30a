package deliver

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// An answer that is not the Bucket protocol (a proxy's HTML page, another
// service's JSON, a 2xx other than 200, a 4xx without the protocol's
// error body) says "wrong endpoint": the breaker opens, no record burns an
// attempt or dies, and the status names the cause. A protocol 400 for the
// batch still dead-letters it.
func TestNonProtocolAnswerHoldsEverything(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		ctype  string
		body   string
	}{
		{"200 html", 200, "text/html", "<html><body>Welcome to nginx!</body></html>"},
		{"200 other json", 200, "application/json", `{"status":"ok"}`},
		{"200 empty", 200, "", ""},
		{"204", 204, "", ""},
		{"400 html", 400, "text/html", "<html><title>400 Bad Request</title></html>"},
		{"422 fastapi", 422, "application/json", `{"detail":[{"loc":["body","records"],"msg":"field required"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer hs.Close()
			st, clk := newStore(t), newClock()
			ids := appendRecs(t, st, clk.Now(), 0, "m", "m")
			f := newForwarder(st, bucket.NewClient(hs.URL), clk, Config{BreakerThreshold: 5, MaxAttempts: 2})
			runOnce(t, f)
			for _, id := range ids {
				if r := get(t, st, id); r.State != bridge.StatePending || r.Attempts != 0 {
					t.Errorf("%s is %s with %d attempts (%q); want pending with 0", id, r.State, r.Attempts, r.LastError)
				}
			}
			status := f.Status()
			if status.Breaker != "open" || !strings.Contains(status.LastError, "answers as no Bucket does") ||
				!strings.Contains(status.LastError, "--bucket-url") {
				t.Errorf("breaker %s, last error %q; want open, saying the URL answers as no Bucket does", status.Breaker, status.LastError)
			}
			if status.Misconfigured != "bucket URL answers as no Bucket does" {
				t.Errorf("misconfigured %q, want the wrong endpoint named", status.Misconfigured)
			}
			if a := attempts(t, st, ids[0]); len(a) != 1 || a[0].Outcome != bridge.AttemptFailed {
				t.Errorf("attempts %+v, want the one send recorded as failed", a)
			}
		})
	}
	t.Run("protocol 400 dead-letters", func(t *testing.T) {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"records: want an array","code":"invalid"}`)
		}))
		defer hs.Close()
		st, clk := newStore(t), newClock()
		ids := appendRecs(t, st, clk.Now(), 0, "m")
		f := newForwarder(st, bucket.NewClient(hs.URL), clk, Config{})
		runOnce(t, f)
		if r := get(t, st, ids[0]); r.State != bridge.StateDead || !strings.Contains(r.LastError, "records: want an array") {
			t.Errorf("record is %s (%q), want dead with the Bucket's reason", r.State, r.LastError)
		}
		if s := f.Status(); s.Breaker != "closed" {
			t.Errorf("breaker %s, want closed: the Bucket answered", s.Breaker)
		}
	})
}
