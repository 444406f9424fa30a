package auth

import (
	"strings"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	const secret = "cbt_session_test_secret_0123456789"
	tokens := NewTokens([]Entry{{Name: "ops", Role: RoleOperator, Hash: HashSecret(secret)}})
	s, err := NewSessions(tokens, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	if _, _, _, err := s.Login("cbt_wrong"); err == nil {
		t.Fatal("a wrong token logged in")
	}
	p, cookie, expires, err := s.Login(secret)
	if err != nil || p.Name != "ops" || !expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("Login: %v %v %v", p, expires, err)
	}
	if strings.Contains(cookie, secret) {
		t.Fatal("the cookie holds the secret")
	}
	if p, err := s.Check(cookie); err != nil || p.Name != "ops" || p.Role != RoleOperator {
		t.Fatalf("Check of a fresh cookie: %v %v", p, err)
	}
	for name, v := range map[string]string{
		"empty": "", "no dot": "abc", "garbage": "a.b",
		"forged mac": cookie[:strings.Index(cookie, ".")+1] + "AAAA" + cookie[strings.Index(cookie, ".")+5:],
		"other key":  func() string { o, _ := NewSessions(tokens, time.Hour); _, c, _, _ := o.Login(secret); return c }(),
	} {
		if _, err := s.Check(v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	now = now.Add(time.Hour)
	if _, err := s.Check(cookie); err == nil {
		t.Error("an expired cookie was accepted")
	}
	now = now.Add(-30 * time.Minute)
	// Revoked with its token: the token leaves the set.
	tokens.set.Store(newTokenSet(nil))
	if _, err := s.Check(cookie); err == nil {
		t.Error("a cookie outlived its token")
	}
}
