package webhook_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"corebridge/internal/webhook"
)

// The example of the Standard Webhooks documentation.
func TestKnownVector(t *testing.T) {
	sec, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	got := webhook.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body, sec)
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func mustSecret(t *testing.T, s string) webhook.Secret {
	t.Helper()
	sec, err := webhook.ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	oldS, newS, other := mustSecret(t, webhook.NewSecret()), mustSecret(t, webhook.NewSecret()), mustSecret(t, webhook.NewSecret())
	pubStr, privStr := webhook.NewKeyPair()
	pub, err := webhook.ParsePublicKey(pubStr)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := webhook.ParsePrivateKey(privStr)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"module":"education","data":{"a":1}}`)
	id := "msg_1"
	ts := strconv.FormatInt(now.Unix(), 10)
	sign := func(at time.Time, b []byte, s ...webhook.Secret) string { return webhook.Sign(id, at, b, s...) }
	both := webhook.Keys{Secrets: []webhook.Secret{oldS, newS}}
	cases := []struct {
		name        string
		id, ts, sig string
		body        []byte
		keys        webhook.Keys
		want        error
	}{
		{"valid", id, ts, sign(now, body, oldS), body, webhook.Keys{Secrets: []webhook.Secret{oldS}}, nil},
		{"rotation: old and new signatures, both keys", id, ts, sign(now, body, oldS, newS), body, both, nil},
		{"rotation: old and new signatures, only new key", id, ts, sign(now, body, oldS, newS), body, webhook.Keys{Secrets: []webhook.Secret{newS}}, nil},
		{"rotation: new signature, both keys", id, ts, sign(now, body, newS), body, both, nil},
		{"unknown version is skipped", id, ts, "v9,abc " + sign(now, body, oldS), body, both, nil},
		{"ed25519", id, ts, webhook.SignEd25519(id, now, body, priv), body, webhook.Keys{Public: []webhook.PublicKey{pub}}, nil},
		{"ed25519 next to hmac", id, ts, sign(now, body, other) + " " + webhook.SignEd25519(id, now, body, priv), body, webhook.Keys{Secrets: []webhook.Secret{oldS}, Public: []webhook.PublicKey{pub}}, nil},
		{"wrong secret", id, ts, sign(now, body, other), body, both, webhook.ErrNoSignature},
		{"body changed by one byte", id, ts, sign(now, body, oldS), []byte(strings.Replace(string(body), "1", "2", 1)), both, webhook.ErrNoSignature},
		{"other id", "msg_2", ts, sign(now, body, oldS), body, both, webhook.ErrNoSignature},
		{"other timestamp", id, strconv.FormatInt(now.Unix()+1, 10), sign(now, body, oldS), body, both, webhook.ErrNoSignature},
		{"6 minutes old", id, strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10), sign(now.Add(-6*time.Minute), body, oldS), body, both, webhook.ErrTooOld},
		{"6 minutes ahead", id, strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10), sign(now.Add(6*time.Minute), body, oldS), body, both, webhook.ErrTooNew},
		{"5 minutes old is in", id, strconv.FormatInt(now.Add(-5*time.Minute).Unix(), 10), sign(now.Add(-5*time.Minute), body, oldS), body, both, nil},
		{"no signature header", id, ts, "", body, both, webhook.ErrMissing},
		{"no id", "", ts, sign(now, body, oldS), body, both, webhook.ErrMissing},
		{"no timestamp", id, "", sign(now, body, oldS), body, both, webhook.ErrMissing},
		{"id with a space", "msg 1", ts, sign(now, body, oldS), body, both, webhook.ErrBadID},
		{"id too long", strings.Repeat("x", webhook.MaxIDLen+1), ts, sign(now, body, oldS), body, both, webhook.ErrBadID},
		{"timestamp not a number", id, "12e9", sign(now, body, oldS), body, both, webhook.ErrBadTime},
		{"negative timestamp", id, "-1", sign(now, body, oldS), body, both, webhook.ErrBadTime},
		{"timestamp in milliseconds", id, strconv.FormatInt(now.UnixMilli(), 10), sign(now, body, oldS), body, both, webhook.ErrBadTime},
		{"no comma", id, ts, "v1abc", body, both, webhook.ErrMalformed},
		{"not base64", id, ts, "v1,!!!!", body, both, webhook.ErrMalformed},
		{"short signature", id, ts, "v1,AAAA", body, both, webhook.ErrMalformed},
		{"only unknown versions", id, ts, "v2,AAAA", body, both, webhook.ErrMalformed},
		{"too many signatures", id, ts, strings.Repeat(sign(now, body, oldS)+" ", webhook.MaxSignatures+1), body, both, webhook.ErrMalformed},
		{"no keys", id, ts, sign(now, body, oldS), body, webhook.Keys{}, webhook.ErrNoKeys},
		{"v1a signature, only secrets", id, ts, webhook.SignEd25519(id, now, body, priv), body, both, webhook.ErrNoSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := webhook.Verify(tc.id, tc.ts, tc.sig, tc.body, tc.keys, 5*time.Minute, now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "whsec_") {
				t.Errorf("error %q mentions a secret", err)
			}
		})
	}
}

func TestSetHeadersVerifyHeader(t *testing.T) {
	now := time.Now()
	s := mustSecret(t, webhook.NewSecret())
	h := http.Header{}
	body := []byte("{}")
	webhook.SetHeaders(h, body, now, s)
	if !webhook.Present(h) {
		t.Fatal("headers not set")
	}
	if err := webhook.VerifyHeader(h, body, webhook.Keys{Secrets: []webhook.Secret{s}}, 0, now); err != nil {
		t.Fatal(err)
	}
	h2 := http.Header{}
	webhook.SetHeaders(h2, body, now, s)
	if h.Get(webhook.HeaderID) == h2.Get(webhook.HeaderID) {
		t.Error("two messages got the same id")
	}
}

func TestParseSecretAndKeys(t *testing.T) {
	for _, bad := range []string{"", "whsec_", "whsec_AAAA", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_" + strings.Repeat("A", 100)} {
		if _, err := webhook.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q): no error", bad)
		} else if strings.Contains(err.Error(), bad) && bad != "" {
			t.Errorf("ParseSecret error %q echoes the value", err)
		}
	}
	for _, bad := range []string{"", "whpk_", "whpk_AAAA", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
		if _, err := webhook.ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q): no error", bad)
		}
	}
	s := mustSecret(t, webhook.NewSecret())
	for _, str := range []string{s.String(), s.GoString()} {
		if str != "whsec_[redacted]" {
			t.Errorf("a secret prints as %q", str)
		}
	}
}
