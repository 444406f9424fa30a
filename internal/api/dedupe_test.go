package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/ingest"
	"corebridge/internal/insight"
	"corebridge/internal/store/sqlite"
	"corebridge/internal/webhook"
)

// The dedupe rules of issue 15 (points 1 and 2), on a real SQLite store
// with the test's clock.

// TestIdempotencyKeyScopedToModule is the repro: key 42 with an
// education update, then key 42 with a finance update. On main the second
// answered duplicate with education's record id and finance's record was
// never stored.
func TestIdempotencyKeyScopedToModule(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true})
	edu := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"education","data":{"grade":"A"}}`, "Idempotency-Key", "42"), "education", false)
	fin := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"finance","data":{"total":99.5}}`, "Idempotency-Key", "42"), "finance", false)
	if fin["record_id"] == edu["record_id"] {
		t.Fatalf("finance's update got education's record id %v", edu["record_id"])
	}
	rec, err := f.store.Get(t.Context(), fin["record_id"].(string))
	if err != nil || rec.Module != "finance" || string(rec.Data) != `{"total":99.5}` {
		t.Fatalf("finance's record = %+v, %v; want it stored", rec, err)
	}
	if st := f.stats(t); st.Received != 2 {
		t.Errorf("received = %d, want 2", st.Received)
	}
	// Each is still deduped within its own module.
	again := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"finance","data":{"total":99.5}}`, "Idempotency-Key", "42"), "finance", true)
	if again["record_id"] != fin["record_id"] {
		t.Errorf("finance's resend answered %v, want %v", again["record_id"], fin["record_id"])
	}
}

// TestIdempotencyKeyScopedToPrincipal: two tokens that both send
// education use the same key: two records.
func TestIdempotencyKeyScopedToPrincipal(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true, api: api.Config{Auth: tableTokens()}})
	body := `{"module":"education","session_id":"s","data":{"a":1}}`
	a := wantUpdateOK(t, f.do(t, "POST", "/core/update", body, "Idempotency-Key", "k", "Authorization", "Bearer cbt_producer_edu_secret"), "education", false)
	b := wantUpdateOK(t, f.do(t, "POST", "/core/update", body, "Idempotency-Key", "k", "Authorization", "Bearer cbt_producer_any_secret"), "education", false)
	if a["record_id"] == b["record_id"] {
		t.Fatal("two principals' key k were taken as one update")
	}
	again := wantUpdateOK(t, f.do(t, "POST", "/core/update", body, "Idempotency-Key", "k", "Authorization", "Bearer cbt_producer_any_secret"), "education", true)
	if again["record_id"] != b["record_id"] {
		t.Errorf("producer-any's resend answered %v, want its own %v", again["record_id"], b["record_id"])
	}
	if st := f.stats(t); st.Received != 2 {
		t.Errorf("received = %d, want 2", st.Received)
	}
}

// TestIdempotencyKeyOtherPayload: the same key, same module, other data
// is refused with 422 naming the header, the original and the difference,
// and stores nothing; the same payload is the original, as before. On main
// the other payload answered 200 duplicate and was lost.
func TestIdempotencyKeyOtherPayload(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true})
	orig := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"m","session_id":"s","data":{"v":1}}`, "Idempotency-Key", "key-1"), "m", false)
	id := orig["record_id"].(string)

	r := f.do(t, "POST", "/core/update", `{"module":"m","session_id":"s","data":{"v":2}}`, "Idempotency-Key", "key-1")
	d := wantDetail(t, r, `["header","idempotency-key"]`, "idempotency_key_reused")
	msg := d[0].(map[string]any)["msg"].(string)
	for _, want := range []string{"Idempotency-Key", id, "different payload", "data differs"} {
		if !strings.Contains(msg, want) {
			t.Errorf("conflict message %q does not name %q", msg, want)
		}
	}
	r = f.do(t, "POST", "/core/update", `{"module":"m","session_id":"other","data":{"v":1}}`, "Idempotency-Key", "key-1")
	wantDetail(t, r, `["header","idempotency-key"]`, "idempotency_key_reused")
	if st := f.stats(t); st.Received != 1 {
		t.Errorf("received = %d after two conflicts, want only the original", st.Received)
	}
	if rec, err := f.store.Get(t.Context(), id); err != nil || string(rec.Data) != `{"v":1}` {
		t.Errorf("original = %s, %v; want it unchanged", rec.Data, err)
	}

	// The key in the body's idempotency_key is the same key, named there.
	r = f.do(t, "POST", "/core/update", `{"module":"m","session_id":"s","data":{"v":9},"idempotency_key":"key-1"}`)
	wantDetail(t, r, `["body","idempotency_key"]`, "idempotency_key_reused")

	same := wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"m","session_id":"s","data":{"v":1}}`, "Idempotency-Key", "key-1"), "m", true)
	if same["record_id"] != id {
		t.Errorf("same payload answered %v, want the original %s", same["record_id"], id)
	}

	// A batch with one such item is refused whole, naming the item.
	for _, tc := range []struct{ name, body, loc string }{
		{"wrapped", `{"updates":[{"module":"m","data":{"n":1}},{"module":"m","session_id":"s","data":{"v":3},"idempotency_key":"key-1"}]}`,
			`["body","updates",1,"idempotency_key"]`},
		{"bare", `[{"module":"m","data":{"n":1}},{"module":"m","session_id":"s","data":{"v":3},"idempotency_key":"key-1"}]`,
			`["body",1,"idempotency_key"]`},
	} {
		t.Run("batch "+tc.name, func(t *testing.T) {
			d := wantDetail(t, f.do(t, "POST", "/core/updates", tc.body), tc.loc, "idempotency_key_reused")
			if msg := d[0].(map[string]any)["msg"].(string); !strings.Contains(msg, "item 1") || !strings.Contains(msg, id) {
				t.Errorf("batch conflict message %q does not name item 1 and %s", msg, id)
			}
			if st := f.stats(t); st.Received != 1 {
				t.Errorf("received = %d, want nothing of the batch stored", st.Received)
			}
		})
	}
	// Two items of one batch with one key and other data.
	r = f.do(t, "POST", "/core/updates", `[{"module":"m","data":{"a":1},"idempotency_key":"b"},{"module":"m","data":{"a":2},"idempotency_key":"b"}]`)
	wantDetail(t, r, `["body",1,"idempotency_key"]`, "idempotency_key_reused")
	if st := f.stats(t); st.Received != 1 {
		t.Errorf("received = %d, want nothing of the batch stored", st.Received)
	}
}

// TestContentDedupeWindow: without a key, a repeated reading (same
// module, session and data) is a resend only within
// --content-dedupe-window. On main the heartbeat 10 minutes later was
// answered duplicate and never stored.
func TestContentDedupeWindow(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true})
	t0 := f.clock.Now()
	hb := `{"module":"robotics","session_id":"arm-1","data":{"status":"ok"}}`
	first := wantUpdateOK(t, f.do(t, "POST", "/core/update", hb), "robotics", false)
	f.clock.Set(t0.Add(time.Minute))
	retry := wantUpdateOK(t, f.do(t, "POST", "/core/update", hb), "robotics", true)
	if retry["record_id"] != first["record_id"] {
		t.Errorf("retry within the window answered %v, want %v", retry["record_id"], first["record_id"])
	}
	f.clock.Set(t0.Add(10 * time.Minute))
	later := wantUpdateOK(t, f.do(t, "POST", "/core/update", hb), "robotics", false)
	if later["record_id"] == first["record_id"] {
		t.Fatal("the heartbeat 10 minutes later was taken as the first one")
	}
	if st := f.stats(t); st.Received != 2 {
		t.Errorf("received = %d, want 2 heartbeats", st.Received)
	}
	// The window now runs from the second heartbeat.
	f.clock.Set(t0.Add(12 * time.Minute))
	if again := wantUpdateOK(t, f.do(t, "POST", "/core/update", hb), "robotics", true); again["record_id"] != later["record_id"] {
		t.Errorf("retry of the second heartbeat answered %v, want %v", again["record_id"], later["record_id"])
	}
}

// TestContentDedupeOff: --content-dedupe-window 0 stores every update
// without a key; keys still dedupe.
func TestContentDedupeOff(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true, api: api.Config{ContentDedupeWindow: -1}})
	hb := `{"module":"robotics","session_id":"arm-1","data":{"status":"ok"}}`
	for range 3 {
		wantUpdateOK(t, f.do(t, "POST", "/core/update", hb), "robotics", false)
	}
	wantUpdateOK(t, f.do(t, "POST", "/core/update", hb, "Idempotency-Key", "k"), "robotics", false)
	wantUpdateOK(t, f.do(t, "POST", "/core/update", hb, "Idempotency-Key", "k"), "robotics", true)
	if st := f.stats(t); st.Received != 4 {
		t.Errorf("received = %d, want 4", st.Received)
	}
}

// TestIdempotencyKeyWindow: a key is remembered for --dedupe-window (24 h
// by default); a resend after it is a new record, as after Stripe's key
// expiry.
func TestIdempotencyKeyWindow(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true})
	t0 := f.clock.Now()
	body := `{"module":"finance","data":{"invoice":1002}}`
	first := wantUpdateOK(t, f.do(t, "POST", "/core/update", body, "Idempotency-Key", "inv-1002"), "finance", false)
	f.clock.Set(t0.Add(23 * time.Hour))
	if r := wantUpdateOK(t, f.do(t, "POST", "/core/update", body, "Idempotency-Key", "inv-1002"), "finance", true); r["record_id"] != first["record_id"] {
		t.Errorf("resend after 23 h answered %v, want %v", r["record_id"], first["record_id"])
	}
	f.clock.Set(t0.Add(24*time.Hour + time.Second))
	if r := wantUpdateOK(t, f.do(t, "POST", "/core/update", body, "Idempotency-Key", "inv-1002"), "finance", false); r["record_id"] == first["record_id"] {
		t.Error("resend after 24 h was still the first record")
	}
	// Past the window another payload under the key is new too, not a conflict.
	f.clock.Set(t0.Add(50 * time.Hour))
	wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"finance","data":{"invoice":1003}}`, "Idempotency-Key", "inv-1002"), "finance", false)
	if st := f.stats(t); st.Received != 3 {
		t.Errorf("received = %d, want 3", st.Received)
	}
}

// bridgeAt is the API over a SQLite file at path with the test's clock:
// one run of the process, which stop ends (store closed).
type bridgeAt struct {
	t    *testing.T
	srv  *api.Server
	st   *sqlite.Store
	stop func()
}

func openBridgeAt(t *testing.T, path string, c *clock) *bridgeAt {
	t.Helper()
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := insight.New(insight.Config{Store: st, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	w := ingest.New(st, log, ingest.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	b := &bridgeAt{t: t, st: st, srv: api.NewServer(st, w, hub, log, api.Config{Now: c.Now})}
	b.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}
	return b
}

func (b *bridgeAt) post(body string, header ...string) map[string]any {
	b.t.Helper()
	r := serve(b.t, b.srv, "POST", "/core/update", body, header...)
	r.want(b.t, http.StatusOK)
	return r.object(b.t)
}

// TestDedupeWindowsAcrossRestart: both windows are kept by the store
// (the originals' received_at), so a restart changes neither: the clock
// moves on between runs, no sleeps.
func TestDedupeWindowsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.db")
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	c := newClock(t0)
	hb := `{"module":"robotics","session_id":"arm-1","data":{"status":"ok"}}`
	inv := `{"module":"finance","data":{"invoice":7}}`
	key := []string{"Idempotency-Key", "inv-7"}

	b := openBridgeAt(t, path, c)
	hb1, inv1 := b.post(hb)["record_id"], b.post(inv, key...)["record_id"]
	b.stop()

	c.Set(t0.Add(4 * time.Minute))
	b = openBridgeAt(t, path, c)
	if r := b.post(hb); r["duplicate"] != true || r["record_id"] != hb1 {
		t.Errorf("heartbeat resent 4 min later, after a restart: %v, want a duplicate of %v", r, hb1)
	}
	if r := b.post(inv, key...); r["duplicate"] != true || r["record_id"] != inv1 {
		t.Errorf("keyed resend 4 min later, after a restart: %v, want a duplicate of %v", r, inv1)
	}
	b.stop()

	c.Set(t0.Add(6 * time.Minute))
	b = openBridgeAt(t, path, c)
	hb2 := b.post(hb)
	if hb2["duplicate"] == true || hb2["record_id"] == hb1 {
		t.Errorf("heartbeat 6 min later, after a restart: %v, want a new record", hb2)
	}
	if r := b.post(inv, key...); r["duplicate"] != true || r["record_id"] != inv1 {
		t.Errorf("keyed resend 6 min later, after a restart: %v, want a duplicate of %v", r, inv1)
	}
	b.stop()

	c.Set(t0.Add(24*time.Hour + time.Minute))
	b = openBridgeAt(t, path, c)
	if r := b.post(inv, key...); r["duplicate"] == true || r["record_id"] == inv1 {
		t.Errorf("keyed resend after 24 h and a restart: %v, want a new record", r)
	}
	// The key now stands for the new record, across one more restart.
	b.stop()
	c.Set(t0.Add(24*time.Hour + 2*time.Minute))
	b = openBridgeAt(t, path, c)
	defer b.stop()
	if r := b.post(inv, key...); r["duplicate"] != true || r["record_id"] == inv1 {
		t.Errorf("keyed resend after the renewal: %v, want a duplicate of the new record", r)
	}
	st, err := b.st.Stats(t.Context())
	if err != nil || st.Received != 4 {
		t.Errorf("received = %d, %v; want 4 (two heartbeats, two invoices)", st.Received, err)
	}
}

// A signed request's webhook-id is its idempotency key: the same id
// signed over another body is a 422 naming the webhook-id, on both routes.
func TestSignedIDReusedWithOtherBody(t *testing.T) {
	f, s, _ := signedFixture(t)
	now := f.clock.Now()
	post := func(path, id, body string) response {
		return f.do(t, "POST", path, body, signedHeaders("cbt_signer", id, now, webhook.Sign(id, now, []byte(body), s))...)
	}
	post("/core/update", "msg_1", `{"module":"education","data":{"a":1}}`).want(t, http.StatusOK)
	d := wantDetail(t, post("/core/update", "msg_1", `{"module":"education","data":{"a":2}}`), `["header","webhook-id"]`, "idempotency_key_reused")
	if msg := d[0].(map[string]any)["msg"].(string); !strings.Contains(msg, "msg_1") {
		t.Errorf("message %q does not name the webhook-id", msg)
	}
	post("/core/updates", "msg_2", `[{"module":"education","data":{"b":1}}]`).want(t, http.StatusOK)
	d = wantDetail(t, post("/core/updates", "msg_2", `[{"module":"education","data":{"b":2}}]`), `["header","webhook-id"]`, "idempotency_key_reused")
	if msg := d[0].(map[string]any)["msg"].(string); !strings.Contains(msg, "item 0") {
		t.Errorf("message %q does not name the item", msg)
	}
	if st := f.stats(t); st.Received != 2 {
		t.Errorf("received = %d, want the two originals only", st.Received)
	}
}
