package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
	"corebridge/internal/insight"
	"corebridge/internal/store/sqlite"
	"corebridge/internal/store/storetest"
)

// fixture is an API server over a store, with its ingest writer running
// and an insight hub. The store is the in-memory storetest.Mem, or a real
// SQLite store in a temporary directory where the test is about the store
// failing or durable ingest's speed.
type fixture struct {
	srv   *api.Server
	store bridge.Store
	clock *clock
	hub   *insight.Hub

	stopOnce   sync.Once
	cancel     context.CancelFunc
	writerDone chan error
	commits    atomic.Int64 // group commits that succeeded
	records    atomic.Int64 // records they wrote
}

// setup configures a fixture's parts; zero values get their defaults.
type setup struct {
	api     api.Config
	ingest  ingest.Config
	insight insight.Config
	// sqlite: a real SQLite store instead of storetest.Mem.
	sqlite bool
	// wrap, when set, wraps the store that the API, the writer and the
	// hub use (the fixture's store field stays the unwrapped store).
	wrap func(bridge.Store) bridge.Store
}

// newFixture opens a store, starts the server with cfg and stops both when
// the test ends. cfg.Now defaults to a clock the test controls.
func newFixture(t testing.TB, cfg api.Config) *fixture {
	t.Helper()
	return newFixtureWith(t, setup{api: cfg})
}

// newFixtureWith is newFixture with the ingest writer's and the insight
// hub's settings too. The hub shares the API's clock.
func newFixtureWith(t testing.TB, c setup) *fixture {
	t.Helper()
	var st bridge.Store = storetest.NewMem()
	if c.sqlite {
		var err error
		if st, err = sqlite.Open(filepath.Join(t.TempDir(), "bridge.db"), sqlite.Options{}); err != nil {
			t.Fatalf("open store: %v", err)
		}
	}
	f := &fixture{store: st}
	if c.api.Now == nil {
		f.clock = newClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		c.api.Now = f.clock.Now
	}
	var used bridge.Store = st
	if c.wrap != nil {
		used = c.wrap(st)
	}
	c.insight.Store, c.insight.Now, c.insight.Version = used, c.api.Now, c.api.Version
	var err error
	if f.hub, err = insight.New(c.insight); err != nil {
		t.Fatal(err)
	}
	c.ingest.Observe = func(n int, took time.Duration, err error) {
		f.hub.Committed(n, took, err)
		if err == nil {
			f.commits.Add(1)
			f.records.Add(int64(n))
		}
	}
	log := slog.New(slog.DiscardHandler)
	w := ingest.New(used, log, c.ingest)
	f.srv = api.NewServer(used, w, f.hub, log, c.api)
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.writerDone = cancel, make(chan error, 1)
	go func() { f.writerDone <- w.Run(ctx) }()
	t.Cleanup(func() {
		f.stop(t)
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return f
}

// stop stops the ingest writer: later updates are refused, and it returns
// once every commit taken in is done. A second stop returns at once.
func (f *fixture) stop(t testing.TB) {
	f.stopOnce.Do(func() {
		f.cancel()
		if err := <-f.writerDone; err != nil {
			t.Errorf("ingest writer: %v", err)
		}
	})
}

// commitStats returns how many group commits succeeded, and their records.
func (f *fixture) commitStats() (commits, records int64) { return f.commits.Load(), f.records.Load() }

func (f *fixture) do(t testing.TB, method, path, body string, header ...string) response {
	t.Helper()
	return serve(t, f.srv, method, path, body, header...)
}

func (f *fixture) stats(t testing.TB) bridge.Stats {
	t.Helper()
	st, err := f.store.Stats(t.Context())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

// settle leases up to n records of the module with the oldest due head
// (passing over the modules in skip) and settles the first synced of them
// as synced and the rest as dead, at now. It returns the leased module.
func (f *fixture) settle(t testing.TB, now time.Time, n, synced int, skip ...string) string {
	t.Helper()
	var l *bridge.Lease
	for {
		var err error
		l, err = f.store.Lease(t.Context(), bridge.LeaseParams{Owner: "test", Now: now, TTL: time.Minute, MaxRecords: n})
		if err != nil {
			t.Fatalf("Lease: %v", err)
		}
		if l == nil {
			t.Fatal("Lease: nothing to lease")
		}
		if !slices.Contains(skip, l.Module) {
			break
		}
		// Held until the test's lease is taken, so that the next Lease
		// passes over its module; then released with nothing settled.
		defer func(held *bridge.Lease) {
			if err := f.store.Settle(t.Context(), bridge.Settlement{LeaseID: held.ID, Module: held.Module, Now: now}); err != nil {
				t.Fatalf("release lease of %s: %v", held.Module, err)
			}
		}(l)
	}
	s := bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: now}
	for i, r := range l.Records {
		if i < synced {
			s.Synced = append(s.Synced, r.ID)
		} else {
			s.Dead = append(s.Dead, bridge.DeadMark{ID: r.ID, Reason: "rejected by test"})
		}
	}
	if err := f.store.Settle(t.Context(), s); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	return l.Module
}

// clock is a settable time source for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

// serve runs one request through h in-process; header is name, value pairs.
func serve(t testing.TB, h http.Handler, method, path, body string, header ...string) response {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1] // what the server reads as the Host header
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// object decodes the body as a JSON object, numbers as json.Number so that
// tests can tell integers from other numbers.
func (r response) object(t testing.TB) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (r response) want(t testing.TB, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("status = %d, want %d; body %s", r.code, code, r.body)
	}
}

func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func wantString(t testing.TB, m map[string]any, key string) string {
	t.Helper()
	s, ok := m[key].(string)
	if !ok {
		t.Fatalf("%s = %#v (%T), want a string", key, m[key], m[key])
	}
	return s
}

func wantInt(t testing.TB, m map[string]any, key string) int64 {
	t.Helper()
	n, ok := m[key].(json.Number)
	if !ok {
		t.Fatalf("%s = %#v (%T), want a number", key, m[key], m[key])
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%s = %s, want an integer", key, n)
	}
	return i
}

func wantFloat(t testing.TB, m map[string]any, key string) float64 {
	t.Helper()
	n, ok := m[key].(json.Number)
	if !ok {
		t.Fatalf("%s = %#v (%T), want a number", key, m[key], m[key])
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatalf("%s = %s: %v", key, n, err)
	}
	return f
}

// wantErrorBody checks the JSON answer of a non-422 error.
func wantErrorBody(t testing.TB, r response, code string) {
	t.Helper()
	m := r.object(t)
	if d, ok := m["detail"].(string); !ok || d == "" {
		t.Errorf("detail = %#v, want a message", m["detail"])
	}
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("error = %#v, want an object", m["error"])
	}
	if e["code"] != code {
		t.Errorf("error.code = %#v, want %q", e["code"], code)
	}
	if msg, ok := e["message"].(string); !ok || msg == "" {
		t.Errorf("error.message = %#v, want a message", e["message"])
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t, api.Config{})
	r := f.do(t, "GET", "/healthz", "")
	r.want(t, http.StatusOK)
	if m := r.object(t); m["status"] != "alive" {
		t.Errorf("status = %#v, want alive", m["status"])
	}
}

func TestReadyz(t *testing.T) {
	// A closed SQLite store refuses writes; /readyz takes a test write at
	// most every PingEvery (made tiny here to see the close at once).
	f := newFixtureWith(t, setup{sqlite: true, insight: insight.Config{PingEvery: time.Nanosecond}})
	r := f.do(t, "GET", "/readyz", "")
	r.want(t, http.StatusOK)
	if m := r.object(t); m["status"] != "ready" {
		t.Errorf("status = %#v, want ready", m["status"])
	}

	if err := f.store.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	r = f.do(t, "GET", "/readyz", "")
	r.want(t, http.StatusServiceUnavailable)
	wantErrorBody(t, r, bridge.EUNAVAILABLE)
}

func TestOpenAPI(t *testing.T) {
	doc := []byte(`{"openapi":"3.1.0","info":{"title":"corebridge","version":"test"},"paths":{}}`)
	f := newFixture(t, api.Config{OpenAPIJSON: doc})
	r := f.do(t, "GET", "/openapi.json", "")
	r.want(t, http.StatusOK)
	if !bytes.Equal(r.body, doc) {
		t.Errorf("body = %s, want %s", r.body, doc)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}

	t.Run("not configured", func(t *testing.T) {
		f := newFixture(t, api.Config{})
		f.do(t, "GET", "/openapi.json", "").want(t, http.StatusNotFound)
	})
}

func TestWrongMethod(t *testing.T) {
	f := newFixture(t, api.Config{})
	for _, tc := range []struct{ method, path, allow string }{
		{"GET", "/core/update", "POST"},
		{"PUT", "/core/update", "POST"},
		{"GET", "/core/updates", "POST"},
		{"POST", "/bucket/status", "GET"},
		{"DELETE", "/core/health", "GET"},
		{"POST", "/healthz", "GET"},
		{"POST", "/readyz", "GET"},
		{"POST", "/openapi.json", "GET"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := f.do(t, tc.method, tc.path, "")
			r.want(t, http.StatusMethodNotAllowed)
			if allow := r.header.Get("Allow"); !strings.Contains(allow, tc.allow) {
				t.Errorf("Allow = %q, want it to contain %s", allow, tc.allow)
			}
			if m := r.object(t); m["error"] == nil || m["detail"] == nil {
				t.Errorf("405 body is not the JSON error body: %v", m)
			}
		})
	}
	if st := f.stats(t); st.Received != 0 {
		t.Errorf("wrong methods stored %d records", st.Received)
	}
	r := f.do(t, "GET", "/no/such/route", "")
	r.want(t, http.StatusNotFound)
	if m := r.object(t); m["error"].(map[string]any)["code"] != "not_found" {
		t.Errorf("404 body: %v", m)
	}
}

func TestIndex(t *testing.T) {
	f := newFixture(t, api.Config{Version: "v-test"})
	r := f.do(t, "GET", "/", "")
	r.want(t, http.StatusOK)
	m := r.object(t)
	if m["version"] != "v-test" {
		t.Errorf("version = %#v", m["version"])
	}
	routes, _ := m["routes"].([]any)
	if !slices.Contains(routes, any("POST /core/update")) {
		t.Errorf("routes = %v, missing POST /core/update", routes)
	}
}
