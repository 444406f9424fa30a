package bucket_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/buckettest"
	"corebridge/internal/bucket/server"
)

func TestClientSendAndReadBack(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	c := bucket.NewClient(run.URL+"/", bucket.WithConcurrency(4), bucket.WithTimeout(10*time.Second))
	ctx := t.Context()
	if err := c.Healthy(ctx); err != nil {
		t.Fatalf("Healthy: %v", err)
	}
	in := buckettest.Records("r", "edu", 3)
	got, err := c.Send(ctx, in)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if want := []string{"stored", "stored", "stored"}; !reflect.DeepEqual(buckettest.Statuses(got), want) {
		t.Fatalf("statuses %v", buckettest.Statuses(got))
	}
	got, err = c.Send(ctx, append(in[1:2], buckettest.Records("n", "fin", 1)...))
	if err != nil {
		t.Fatalf("Send again: %v", err)
	}
	if want := []bucket.Result{{ID: "r-1", Status: "duplicate"}, {ID: "n-0", Status: "stored"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("second Send = %+v, want %+v", got, want)
	}

	page, err := c.Records(ctx, "edu", "r-0", 10)
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	if len(page) != 2 || page[0].ID != "r-1" || page[1].ID != "r-2" {
		t.Fatalf("Records(edu after r-0) = %+v", page)
	}
	if r := page[0]; r.ReceivedAt != bridge.FormatTime(in[1].ReceivedAt) || string(r.Data) != `{"i":1}` || r.SessionID != "sess" {
		t.Errorf("r-1 read back as %+v", r)
	}
	all, err := c.Records(ctx, "", "", 0)
	if err != nil || len(all) != 4 {
		t.Errorf("Records(all) = %d records, %v", len(all), err)
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (bucket.Stats{Total: 4, Modules: map[string]int64{"edu": 3, "fin": 1}}); !reflect.DeepEqual(st, want) {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	if res, err := c.Send(ctx, nil); err != nil || len(res) != 0 {
		t.Errorf("Send(nil) = %v, %v", res, err)
	}
	_, err = c.Records(ctx, "", "unknown", 0)
	var se *bucket.StatusError
	if !errors.As(err, &se) || se.StatusCode != 400 || se.Temporary() || !strings.Contains(se.Message, "unknown") {
		t.Errorf("Records(after unknown) error = %#v", err)
	}
}

func TestClientStatusErrors(t *testing.T) {
	t.Run("503 from the reference bucket", func(t *testing.T) {
		run := buckettest.Start(t, server.Config{Faults: server.Faults{FailRate: 1}})
		_, err := bucket.NewClient(run.URL).Send(t.Context(), buckettest.Records("x", "edu", 2))
		var se *bucket.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("error %v (%T), want *StatusError", err, err)
		}
		if se.StatusCode != 503 || se.RetryAfter != time.Second || !se.Temporary() || !strings.Contains(se.Message, "fault injection") {
			t.Errorf("StatusError = %+v", se)
		}
	})

	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		body       string
		wantAfter  [2]time.Duration // bounds
		temporary  bool
		message    string
	}{
		{"429 seconds", 429, "7", `{"error":"slow down","code":"rate_limited"}`, [2]time.Duration{7 * time.Second, 7 * time.Second}, true, "slow down"},
		{"429 http date", 429, date, `{"error":"later"}`, [2]time.Duration{59 * time.Minute, time.Hour}, true, "later"},
		{"503 without retry-after", 503, "", `<html>down for maintenance</html>`, [2]time.Duration{}, true, "<html>down for maintenance</html>"},
		{"502 plain", 502, "", "bad gateway\n", [2]time.Duration{}, true, "bad gateway"},
		{"408", 408, "", "", [2]time.Duration{}, true, ""},
		{"400 is final", 400, "", `{"error":"nope"}`, [2]time.Duration{}, false, "nope"},
		{"413 is final", 413, "", `{"error":"too big"}`, [2]time.Duration{}, false, "too big"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer hs.Close()
			_, err := bucket.NewClient(hs.URL).Send(t.Context(), buckettest.Records("x", "edu", 1))
			var se *bucket.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want *StatusError", err, err)
			}
			if se.StatusCode != tc.status || se.RetryAfter < tc.wantAfter[0] || se.RetryAfter > tc.wantAfter[1] ||
				se.Temporary() != tc.temporary || se.Message != tc.message {
				t.Errorf("StatusError = %+v (temporary %v)", se, se.Temporary())
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tc.status)) {
				t.Errorf("error text %q does not give the status", err)
			}
		})
	}
}

func TestClientBadResponses(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
	}{
		{"fewer results", `{"results":[{"id":"x-0","status":"stored"}]}`},
		{"more results", `{"results":[{"id":"x-0","status":"stored"},{"id":"x-1","status":"stored"},{"id":"x-2","status":"stored"}]}`},
		{"no results", `{}`},
		{"ids swapped", `{"results":[{"id":"x-1","status":"stored"},{"id":"x-0","status":"stored"}]}`},
		{"unknown status", `{"results":[{"id":"x-0","status":"stored"},{"id":"x-1","status":"maybe"}]}`},
		{"not json", `ok`},
		{"truncated", `{"results":[{"id":"x-0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, tc.body)
			}))
			defer hs.Close()
			res, err := bucket.NewClient(hs.URL).Send(t.Context(), buckettest.Records("x", "edu", 2))
			if !errors.Is(err, bucket.ErrBadResponse) || res != nil {
				t.Errorf("Send = %v, %v; want ErrBadResponse and no results", res, err)
			}
		})
	}
}

func TestClientNetworkErrors(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	c := bucket.NewClient(run.URL)
	if _, err := c.Send(t.Context(), buckettest.Records("a", "edu", 1)); err != nil {
		t.Fatal(err)
	}
	if err := run.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := c.Send(t.Context(), buckettest.Records("b", "edu", 1))
	var se *bucket.StatusError
	var ne net.Error
	if err == nil || errors.As(err, &se) || errors.Is(err, bucket.ErrBadResponse) || !errors.As(err, &ne) {
		t.Errorf("Send to a stopped bucket: %v (%T), want a wrapped network error", err, err)
	}
	if err := c.Healthy(t.Context()); err == nil {
		t.Error("Healthy of a stopped bucket is nil")
	}
}

func TestClientTimeout(t *testing.T) {
	run := buckettest.Start(t, server.Config{Faults: server.Faults{Latency: 2 * time.Second}})
	c := bucket.NewClient(run.URL, bucket.WithTimeout(100*time.Millisecond))
	start := time.Now()
	_, err := c.Send(t.Context(), buckettest.Records("t", "edu", 2))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want a deadline error", err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("Send gave up after %v, want about 100ms", took)
	}
	// The Bucket stored the batch; only the answer was lost. A resend is
	// answered duplicate: at-least-once delivery, exactly-once in effect.
	run.Server.SetFaults(server.Faults{})
	got, err := bucket.NewClient(run.URL).Send(t.Context(), buckettest.Records("t", "edu", 2))
	if err != nil || !reflect.DeepEqual(buckettest.Statuses(got), []string{"duplicate", "duplicate"}) {
		t.Errorf("resend after a lost answer: %v, %v", got, err)
	}
}

// The pool is sized to the concurrency: rounds of that many batches at once
// reuse that many connections. Go's default keeps 2 idle connections and
// would close the others after each round and open new ones for the next.
func TestClientReusesConnections(t *testing.T) {
	var conns atomic.Int64
	run := buckettest.Start(t, server.Config{})
	hs := httptest.NewUnstartedServer(run.Server)
	hs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	hs.Start()
	defer hs.Close()

	const workers, rounds = 8, 10
	c := bucket.NewClient(hs.URL, bucket.WithConcurrency(workers))
	for r := range rounds {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				if _, err := c.Send(t.Context(), buckettest.Records(fmt.Sprintf("r%d-w%d", r, w), "edu", 5)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait() // every connection is back in the pool
	}
	if n := conns.Load(); n > workers {
		t.Errorf("%d connections for %d rounds of %d batches, want at most %d", n, rounds, workers, workers)
	}
}

// An answer that is not the protocol at all is told apart from a protocol
// answer that does not fit the request: the first means "wrong endpoint".
func TestClientNotProtocol(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   bool
	}{
		{"200 html", 200, "<html>hello</html>", true},
		{"200 json without results", 200, `{"ok":true}`, true},
		{"200 truncated", 200, `{"results":[{"id":"x-0"`, true},
		{"204", 204, "", true},
		{"200 fewer results", 200, `{"results":[{"id":"x-0","status":"stored"}]}`, false},
		{"400 html", 400, "<html>Bad Request</html>", true},
		{"422 other json", 422, `{"detail":[]}`, true},
		{"400 protocol", 400, `{"error":"no","code":"invalid"}`, false},
		{"503 protocol", 503, `{"error":"down","code":"unavailable"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer hs.Close()
			_, err := bucket.NewClient(hs.URL).Send(t.Context(), buckettest.Records("x", "edu", 2))
			if err == nil || errors.Is(err, bucket.ErrNotProtocol) != tc.want {
				t.Errorf("Send = %v; ErrNotProtocol %v, want %v", err, errors.Is(err, bucket.ErrNotProtocol), tc.want)
			}
		})
	}
}
