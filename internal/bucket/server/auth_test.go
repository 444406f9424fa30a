package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
)

func TestRequireToken(t *testing.T) {
	srv := server.NewServer(openStore(t), nil, server.ServerConfig{Tokens: []string{"old-token", "new-token"}})
	hs := httptest.NewServer(srv)
	defer hs.Close()

	get := func(path, auth string) (int, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, hs.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", 200},
		{"/v1/stats", "", 401},
		{"/v1/records", "", 401},
		{"/v1/stats", "Bearer wrong", 401},
		{"/v1/stats", "Bearer old-token-and-more", 401},
		{"/v1/stats", "Basic b2xkLXRva2Vu", 401},
		{"/v1/stats", "Bearer old-token", 200},
		{"/v1/records", "bearer new-token", 200},
	} {
		code, body := get(tc.path, tc.auth)
		if code != tc.want {
			t.Errorf("GET %s with %q: %d, want %d", tc.path, tc.auth, code, tc.want)
		}
		if code == 401 && (body["code"] != "unauthorized" || body["error"] == "") {
			t.Errorf("GET %s with %q: body %v, want a JSON error", tc.path, tc.auth, body)
		}
	}

	// The client sees a StatusError 401 and stores nothing without the token.
	c := bucket.NewClient(hs.URL)
	_, err := c.SendRecords(context.Background(), recs("a", "education", 2))
	var se *bucket.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
		t.Fatalf("send without token: %v", err)
	}
	c = bucket.NewClient(hs.URL, bucket.WithHeaders(func() http.Header {
		return http.Header{"Authorization": {"Bearer new-token"}}
	}))
	res, err := c.SendRecords(context.Background(), recs("a", "education", 2))
	if err != nil || len(res) != 2 || res[0].Status != bucket.StatusStored {
		t.Fatalf("send with token: %v %v", res, err)
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens")
	if err := os.WriteFile(p, []byte("# bucket tokens\n\none \n two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := server.ReadTokenFile(p)
	if err != nil || strings.Join(got, ",") != "one,two" {
		t.Fatalf("ReadTokenFile = %q, %v", got, err)
	}
	if err := os.WriteFile(p, []byte("# none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := server.ReadTokenFile(p); err == nil {
		t.Fatal("an empty token file was accepted")
	}
}
