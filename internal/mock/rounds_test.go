package mock

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

func TestRoundsTwoRounds(t *testing.T) {
	f := newFakeBridge(t, nil)
	var out bytes.Buffer
	err := Rounds(context.Background(), RoundsConfig{URL: f.URL, Token: "tok", Interval: 10 * time.Millisecond, Rounds: 2}, &out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 8 (2 rounds of 4 modules):\n%s", len(lines), out.String())
	}
	line := regexp.MustCompile(`^\[([a-z]+)\] status=success session_id=(mock-\S+) record_id=rec-(\d+)$`)
	for i, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("line %q does not match %s", l, line)
			continue
		}
		if want := DefaultModules()[i%4]; m[1] != want {
			t.Errorf("line %d is for %s, want %s", i, m[1], want)
		}
	}
	if f.requests() != 8 || len(f.duplicateSessions()) > 0 {
		t.Errorf("bridge saw %d requests, duplicate session_ids %v; want 8 distinct", f.requests(), f.duplicateSessions())
	}
	if f.load[""] != 8 {
		t.Errorf("Corebridge-Load-Test headers %v; rounds are a producer's rhythm, not a load test", f.load)
	}
	if f.auth["Bearer tok"] != 8 {
		t.Errorf("Authorization headers %v, want Bearer tok on every request", f.auth)
	}
}

func TestRoundsReportsErrors(t *testing.T) {
	f := newFakeBridge(t, func(_ int, u bridge.Update) int {
		if u.Module == "finance" {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	var out bytes.Buffer
	err := Rounds(context.Background(), RoundsConfig{URL: f.URL, Modules: []string{"education", "finance"}, Interval: time.Millisecond, Rounds: 2}, &out)
	if err == nil || !strings.Contains(err.Error(), "2 of 4 updates failed") {
		t.Errorf("error %v, want 2 of 4 failed", err)
	}
	want := "[finance] error: corebridge: POST /core/update: 503 Service Unavailable: queue full"
	if n := strings.Count(out.String(), want); n != 2 {
		t.Errorf("%d lines %q, want 2 in:\n%s", n, want, out.String())
	}
	if n := strings.Count(out.String(), "[education] status=success"); n != 2 {
		t.Errorf("%d successes of education, want 2 (a failing module must not stop the others):\n%s", n, out.String())
	}
}

func TestRoundsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFakeBridge(t, func(n int, _ bridge.Update) int {
		if n == 6 {
			cancel()
		}
		return 0
	})
	var out bytes.Buffer
	if err := Rounds(ctx, RoundsConfig{URL: f.URL, Interval: time.Millisecond}, &out); err != nil {
		t.Fatalf("Rounds after cancel = %v, want nil", err)
	}
	if got := f.requests(); got < 6 || got > 7 {
		t.Errorf("bridge saw %d requests after cancelling at the 6th", got)
	}
	if strings.Contains(out.String(), "error") {
		t.Errorf("cancellation reported as an error:\n%s", out.String())
	}
}
