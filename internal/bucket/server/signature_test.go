package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
	"corebridge/internal/webhook"
)

func mustSecret(t testing.TB, s string) webhook.Secret {
	t.Helper()
	sec, err := webhook.ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// TestSignedBatches: the client signs every POST /v1/records; the
// reference Bucket verifies and refuses (401, nothing stored) a batch that
// is unsigned, signed with another secret, changed, or stale; a client
// signing with an old and a new secret passes a Bucket that knows only the
// new one; GET routes and /healthz need no signature.
func TestSignedBatches(t *testing.T) {
	oldS, newS, otherS := webhook.NewSecret(), webhook.NewSecret(), webhook.NewSecret()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st := openStore(t)
	srv := server.NewServer(st, nil, server.ServerConfig{
		Tokens:        []string{"tok"},
		VerifySecrets: func() []webhook.Secret { return []webhook.Secret{mustSecret(t, newS)} },
		Now:           clock,
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	auth := bucket.WithHeaders(func() http.Header { return http.Header{"Authorization": {"Bearer tok"}} })
	client := func(secrets ...string) *bucket.Client {
		var ss []webhook.Secret
		for _, s := range secrets {
			ss = append(ss, mustSecret(t, s))
		}
		return bucket.NewClient(hs.URL, auth, bucket.WithSigner(func() []webhook.Secret { return ss }))
	}
	refused := func(what string, err error, wantMsg string) {
		t.Helper()
		var se *bucket.StatusError
		if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: %v, want a 401", what, err)
		}
		if !strings.Contains(se.Message, wantMsg) {
			t.Errorf("%s: message %q, want it to contain %q", what, se.Message, wantMsg)
		}
		for _, s := range []string{oldS, newS, otherS} {
			if strings.Contains(se.Message, strings.TrimPrefix(s, "whsec_")) {
				t.Errorf("%s: the message shows a secret", what)
			}
		}
	}
	ctx := context.Background()

	_, err := bucket.NewClient(hs.URL, auth).SendRecords(ctx, recs("u", "education", 2))
	refused("unsigned", err, "webhook-id, webhook-timestamp and webhook-signature are required")
	_, err = client(otherS).SendRecords(ctx, recs("w", "education", 2))
	refused("wrong secret", err, "no signature matches a secret of this bucket")
	_, err = client(oldS).SendRecords(ctx, recs("o", "education", 2))
	refused("old secret only", err, "no signature matches")

	// A changed body: signed, then one byte altered on the way.
	body := []byte(`{"records":[{"id":"c-1","module":"education","session_id":"s","data":{"n":1},"received_at":"2026-11-29T14:00:00.000000Z"}]}`)
	h := http.Header{}
	webhook.SetHeaders(h, body, time.Now(), mustSecret(t, newS))
	changed := bytes.Replace(body, []byte(`"n":1`), []byte(`"n":2`), 1)
	if code, msg := rawPost(t, hs.URL, h, changed); code != 401 || !strings.Contains(msg, "no signature matches") {
		t.Errorf("changed body: %d %s", code, msg)
	}
	// A stale one: signed 6 minutes before the server's clock.
	h = http.Header{}
	webhook.SetHeaders(h, body, now.Add(-6*time.Minute), mustSecret(t, newS))
	if code, msg := rawPost(t, hs.URL, h, body); code != 401 || !strings.Contains(msg, "too old") {
		t.Errorf("stale: %d %s", code, msg)
	}
	if s, err := st.Stats(ctx); err != nil || s.Total != 0 {
		t.Fatalf("refused batches stored something: %+v %v", s, err)
	}

	// Rotation: old and new on the client, only new on the server.
	res, err := client(oldS, newS).SendRecords(ctx, recs("r", "education", 3))
	if err != nil || len(res) != 3 || res[0].Status != bucket.StatusStored {
		t.Fatalf("old+new: %v %v", res, err)
	}
	res, err = client(newS).SendRecords(ctx, recs("n", "education", 2))
	if err != nil || len(res) != 2 || res[1].Status != bucket.StatusStored {
		t.Fatalf("new only: %v %v", res, err)
	}
	// GETs need no signature, /healthz not even a token.
	c := client()
	if _, err := c.Records(ctx, "education", "", 0); err != nil {
		t.Errorf("GET /v1/records: %v", err)
	}
	if s, err := c.Stats(ctx); err != nil || s.Total != 5 {
		t.Errorf("GET /v1/stats: %+v %v, want 5 records", s, err)
	}
	if err := bucket.NewClient(hs.URL).Healthy(ctx); err != nil {
		t.Errorf("GET /healthz: %v", err)
	}
	// A wrong token is refused before the signature is looked at.
	bad := bucket.NewClient(hs.URL, bucket.WithHeaders(func() http.Header { return http.Header{"Authorization": {"Bearer nope"}} }),
		bucket.WithSigner(func() []webhook.Secret { return []webhook.Secret{mustSecret(t, newS)} }))
	_, err = bad.SendRecords(ctx, recs("t", "education", 1))
	refused("wrong token", err, "bearer token")
}

// rawPost posts body with the headers h (and the token) and returns the
// status and the error message.
func rawPost(t *testing.T, url string, h http.Header, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/records", bytes.NewReader(body))
	req.Header = h
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error, Code string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error
}

// TestSignerHeaders: every request of a signing client carries a fresh
// webhook-id, a current timestamp and one signature per secret, set after
// the WithHeaders ones (which cannot override them); GETs are not signed.
func TestSignerHeaders(t *testing.T) {
	a, b := mustSecret(t, webhook.NewSecret()), mustSecret(t, webhook.NewSecret())
	var mu sync.Mutex
	var seen []http.Header
	var bodies [][]byte
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		bodies = append(bodies, buf.Bytes())
		mu.Unlock()
		if r.Method == http.MethodGet {
			w.Write([]byte(`{"records":[]}`))
			return
		}
		var req bucket.Request
		_ = json.Unmarshal(buf.Bytes(), &req)
		var resp bucket.Response
		for _, rec := range req.Records {
			resp.Results = append(resp.Results, bucket.Result{ID: rec.ID, Status: bucket.StatusStored})
		}
		_ = json.NewEncoder(w).Encode(resp)
	}))
	defer hs.Close()
	c := bucket.NewClient(hs.URL,
		bucket.WithHeaders(func() http.Header { return http.Header{webhook.HeaderID: {"forged"}} }),
		bucket.WithSigner(func() []webhook.Secret { return []webhook.Secret{a, b} }))
	ctx := context.Background()
	for range 2 {
		if _, err := c.SendRecords(ctx, recs("x", "education", 1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Records(ctx, "", "", 0); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Fatalf("%d requests, want 3", len(seen))
	}
	for i := range 2 {
		h := seen[i]
		if got := len(strings.Fields(h.Get(webhook.HeaderSignature))); got != 2 {
			t.Errorf("request %d: %d signatures, want 2", i, got)
		}
		ts, _ := strconv.ParseInt(h.Get(webhook.HeaderTimestamp), 10, 64)
		if d := time.Since(time.Unix(ts, 0)); d < -time.Second || d > 5*time.Second {
			t.Errorf("request %d: timestamp %d is not now", i, ts)
		}
		for _, k := range []webhook.Secret{a, b} {
			if err := webhook.VerifyHeader(h, bodies[i], webhook.Keys{Secrets: []webhook.Secret{k}}, 0, time.Now()); err != nil {
				t.Errorf("request %d does not verify with one of its secrets: %v", i, err)
			}
		}
	}
	if seen[0].Get(webhook.HeaderID) == seen[1].Get(webhook.HeaderID) || seen[0].Get(webhook.HeaderID) == "forged" {
		t.Errorf("ids %q, %q: want a fresh one per request", seen[0].Get(webhook.HeaderID), seen[1].Get(webhook.HeaderID))
	}
	if webhook.Present(seen[2]) && seen[2].Get(webhook.HeaderSignature) != "" {
		t.Errorf("a GET was signed")
	}
}

// TestWatchSecretsAndTokens: the secret and token files are re-read when
// they change; a file that turns bad keeps the last good value; at start a
// bad file is an error that shows no content.
func TestWatchSecretsAndTokens(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secrets")
	s1, s2 := webhook.NewSecret(), webhook.NewSecret()
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tick := func() { mu.Lock(); now = now.Add(2 * time.Second); mu.Unlock() }
	var errs []error
	o := bucket.WatchOptions{Now: clock, OnError: func(err error) { errs = append(errs, err) }}

	for _, bad := range []string{"", "# nothing\n\n", "whsec_notbase64!!\n", s1 + "\nplain-secret-value\n"} {
		write(bad)
		_, err := bucket.WatchSecrets(p, o)
		if err == nil {
			t.Errorf("%q was accepted", bad)
		} else if strings.Contains(err.Error(), "plain-secret-value") || strings.Contains(err.Error(), "notbase64") {
			t.Errorf("the error shows the content: %v", err)
		}
	}
	if _, err := bucket.WatchSecrets(filepath.Join(dir, "missing"), o); err == nil {
		t.Error("a missing file was accepted")
	}

	write("# current\n" + s1 + "\n")
	w, err := bucket.WatchSecrets(p, o)
	if err != nil || len(w.Get()) != 1 {
		t.Fatalf("WatchSecrets = %v, %v", w, err)
	}
	write(s1 + "\n" + s2 + "\n")
	if len(w.Get()) != 1 {
		t.Error("re-read before CheckEvery passed")
	}
	tick()
	if got := w.Get(); len(got) != 2 {
		t.Fatalf("after a change: %d secrets, want 2", len(got))
	}
	write("broken\n")
	tick()
	if got := w.Get(); len(got) != 2 || len(errs) != 1 {
		t.Fatalf("after a bad change: %d secrets, %d errors; want the last 2 and 1 error", len(got), len(errs))
	}
	if strings.Contains(errs[0].Error(), "broken") {
		t.Errorf("the error shows the content: %v", errs[0])
	}

	tp := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tp, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tw, err := server.WatchTokenFile(tp, bucket.WatchOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewServer(openStore(t), nil, server.ServerConfig{TokenSource: tw.Get})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	stats := func(tok string) error {
		_, err := bucket.NewClient(hs.URL, bucket.WithHeaders(func() http.Header {
			return http.Header{"Authorization": {"Bearer " + tok}}
		})).Stats(context.Background())
		return err
	}
	if err := stats("first"); err != nil {
		t.Fatalf("first token: %v", err)
	}
	if err := os.WriteFile(tp, []byte("second-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tick()
	if err := stats("second-token"); err != nil {
		t.Errorf("the new token after a reload: %v", err)
	}
	if err := stats("first"); err == nil {
		t.Error("the old token still passes after a reload")
	}
}
