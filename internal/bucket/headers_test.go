package bucket_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bucket"
)

func TestParseHeaderSpec(t *testing.T) {
	env := map[string]string{"BUCKET_KEY": "k-123"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		in   string
		want bucket.HeaderSpec
		bad  bool
	}{
		{in: "X-Api-Key: abc", want: bucket.HeaderSpec{Name: "X-Api-Key", Value: "abc"}},
		{in: "x-api-key:$BUCKET_KEY", want: bucket.HeaderSpec{Name: "X-Api-Key", Value: "k-123"}},
		{in: "X-Api-Key: @/etc/key", want: bucket.HeaderSpec{Name: "X-Api-Key", File: "/etc/key"}},
		{in: "X-Api-Key: $MISSING", bad: true},
		{in: "no colon", bad: true},
		{in: ": value", bad: true},
		{in: "Bad Name: v", bad: true},
		{in: "X: @", bad: true},
		{in: "X: a\x01b", bad: true},
	} {
		got, err := bucket.ParseHeaderSpec(tc.in, getenv)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	// An error never shows the value.
	if _, err := bucket.ParseHeaderSpec("X: sec\x01ret", getenv); err == nil || strings.Contains(err.Error(), "sec") {
		t.Errorf("error shows the value: %v", err)
	}
}

func TestCredentialsReloadFile(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var errs []string
	c, err := bucket.NewCredentials([]bucket.HeaderSpec{bucket.BearerFile(tok), {Name: "X-Tenant", Value: "plant"}},
		bucket.CredentialsOptions{Now: clock, OnError: func(name string, err error) { errs = append(errs, name) }})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Headers().Get("Authorization"); got != "Bearer first" {
		t.Fatalf("Authorization = %q", got)
	}
	if got := c.Headers().Get("X-Tenant"); got != "plant" {
		t.Fatalf("X-Tenant = %q", got)
	}

	// The server sees what the client sends.
	var seen []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
	}))
	defer hs.Close()
	cl := bucket.NewClient(hs.URL, bucket.WithHeaders(c.Headers))

	if err := os.WriteFile(tok, []byte("second-longer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Within the check interval the old value stays.
	if err := cl.Healthy(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if err := cl.Healthy(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != "Bearer first" || seen[1] != "Bearer second-longer" {
		t.Fatalf("server saw %q", seen)
	}

	// A file that goes empty keeps the last good value and says so.
	if err := os.WriteFile(tok, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if got := c.Headers().Get("Authorization"); got != "Bearer second-longer" {
		t.Fatalf("after emptying: %q", got)
	}
	if len(errs) != 1 || errs[0] != "Authorization" {
		t.Fatalf("errors reported: %q", errs)
	}
	if names := c.Names(); len(names) != 2 || names[0] != "Authorization" {
		t.Fatalf("names %q", names)
	}

	if _, err := bucket.NewCredentials([]bucket.HeaderSpec{bucket.BearerFile(filepath.Join(dir, "missing"))}, bucket.CredentialsOptions{}); err == nil {
		t.Fatal("a missing token file was accepted")
	}
}
