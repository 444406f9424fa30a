package automation

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock moved by the test. In auto mode every After moves
// it by the wait at once and records the wait: that is how retry tests see
// the backoff schedule without sleeping.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	calls   int // After calls so far
	auto    bool
	slept   []time.Duration
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

var _ Clock = (*fakeClock)(nil)

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	ch := make(chan time.Time, 1)
	if c.auto {
		c.slept = append(c.slept, d)
		c.now = c.now.Add(d)
		ch <- c.now
		return ch
	}
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock and fires the waits that have passed.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

func (c *fakeClock) afterCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// eventually polls cond in real time: the runner works in goroutines, and
// the fake clock only decides when it starts.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fakeBridge answers the bridge's routes the way the real one shapes them
// and remembers what it was sent. Tests that need the real bridge are in
// cmd/corebridge.
type fakeBridge struct {
	URL string
	// answer, when set, may answer a request itself (return true).
	answer func(n int, w http.ResponseWriter, r *http.Request) bool
	// block, when set, holds every request to /block until it is closed.
	block     chan struct{}
	blockOnce sync.Once
	entered   chan struct{} // receives once per request that reached /block

	mu       sync.Mutex
	n        int
	requests []seen
}

type seen struct {
	Method, Path string
	Header       http.Header
	Body         string
}

func newFakeBridge(t *testing.T) *fakeBridge {
	t.Helper()
	f := &fakeBridge{entered: make(chan struct{}, 16)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.release) // before Close, which waits for blocked requests
	f.URL = srv.URL
	return f
}

// release lets every request held at /block answer.
func (f *fakeBridge) release() {
	f.blockOnce.Do(func() {
		if f.block != nil {
			close(f.block)
		}
	})
}

func (f *fakeBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.n++
	n := f.n
	f.requests = append(f.requests, seen{r.Method, r.URL.Path, r.Header.Clone(), string(body)})
	answer, block := f.answer, f.block
	f.mu.Unlock()
	if answer != nil && answer(n, w, r) {
		return
	}
	switch r.URL.Path {
	case "/core/update":
		var u struct{ Module string }
		_ = json.Unmarshal(body, &u)
		fmt.Fprintf(w, `{"status":"success","timestamp":"2026-11-29T10:00:00Z","session_id":"s-%d","message":"Data received and logged for module %s","record_id":"rec-%d"}`, n, u.Module, n)
	case "/core/updates":
		var b struct{ Updates []json.RawMessage }
		_ = json.Unmarshal(body, &b)
		res := make([]string, len(b.Updates))
		for i := range res {
			res[i] = fmt.Sprintf(`{"record_id":"rec-%d-%d","session_id":"s","timestamp":"t","duplicate":false}`, n, i)
		}
		fmt.Fprintf(w, `{"status":"success","count":%d,"results":[%s]}`, len(res), strings.Join(res, ","))
	case "/bucket/status":
		io.WriteString(w, `{"last_sync_time":"2026-11-29T10:00:00Z","total_sync_count":3,"module_sync_counts":{"education":2,"finance":1},"dead_count":0}`)
	case "/core/health":
		io.WriteString(w, `{"status":"ok","uptime_s":1.5,"last_sync_ts":"","pending_queue":42,"error_count_24h":0,"avg_latency_ms_24h":3.5,"breaker":"closed"}`)
	case "/api/dead-letters/replay":
		io.WriteString(w, `{"replayed":7}`)
	case "/block":
		f.entered <- struct{}{}
		<-block
		io.WriteString(w, `{"done":true}`)
	default:
		http.NotFound(w, r)
	}
}

// paths returns the paths requested so far, in order.
func (f *fakeBridge) paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.requests))
	for i, s := range f.requests {
		out[i] = s.Path
	}
	return out
}

func (f *fakeBridge) count(path string) int {
	n := 0
	for _, p := range f.paths() {
		if p == path {
			n++
		}
	}
	return n
}

func (f *fakeBridge) seen() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.requests...)
}

// mustParse parses a config written in a test.
func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, s)
	}
	return cfg
}
