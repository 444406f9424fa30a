package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"corebridge/internal/webhook"
)

func TestParseFileSigning(t *testing.T) {
	sec1, sec2 := webhook.NewSecret(), webhook.NewSecret()
	pub, _ := webhook.NewKeyPair()
	entries, err := ParseFile(fmt.Appendf(nil, `tokens:
  - name: signed
    role: producer
    modules: [education]
    hash: %s
    signing_secrets: [%q, %q]
    signing_keys: [%q]
  - name: optional
    role: producer
    modules: ["*"]
    hash: %s
    signing_secrets: [%q]
    require_signature: false
`, h1, sec1, sec2, pub, h2, sec1))
	if err != nil {
		t.Fatal(err)
	}
	if got := entries[0]; len(got.SigningSecrets) != 2 || len(got.SigningKeys) != 1 || got.RequireSignature != nil {
		t.Errorf("entry 0 = %+v", got)
	}
	if got := entries[1]; got.RequireSignature == nil || *got.RequireSignature {
		t.Errorf("entry 1 require_signature = %v, want false", got.RequireSignature)
	}
	toks := NewTokens(entries)
	p, err := toks.Authenticate("Bearer s1")
	if err != nil || !p.SignatureRequired() {
		t.Fatalf("signed token: %v, required %v", err, p.SignatureRequired())
	}
	// The principal shows no key, printed or marshalled.
	js, _ := json.Marshal(p)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", p, p, p), string(js)} {
		if strings.Contains(out, strings.TrimPrefix(sec1, "whsec_")) || strings.Contains(out, strings.TrimPrefix(sec2, "whsec_")) {
			t.Errorf("a principal shows its secret: %s", out)
		}
	}
	if p2, _ := toks.Authenticate("Bearer s2"); p2.SignatureRequired() {
		t.Error("require_signature: false, yet required")
	}
}

func TestParseFileSigningInvalid(t *testing.T) {
	sec := webhook.NewSecret()
	pub, priv := webhook.NewKeyPair()
	for _, tc := range []struct{ name, extra, field string }{
		{"secret not whsec", `signing_secrets: ["abc"]`, "signing_secrets"},
		{"secret too short", `signing_secrets: ["whsec_AAAA"]`, "signing_secrets"},
		{"secret twice", fmt.Sprintf(`signing_secrets: [%q, %q]`, sec, sec), "signing_secrets"},
		{"secrets not a list", `signing_secrets: 3`, "signing_secrets"},
		{"public key is a secret", fmt.Sprintf(`signing_keys: [%q]`, sec), "signing_keys"},
		{"private key in signing_keys", fmt.Sprintf(`signing_keys: [%q]`, priv), "signing_keys"},
		{"require without keys", `require_signature: true`, "require_signature"},
		{"require not a bool", `require_signature: "yes"`, "require_signature"},
		{"too many", fmt.Sprintf(`signing_keys: [%q, %q, %q, %q, %q]`, pub, pub, pub, pub, pub), "signing_keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile(fmt.Appendf(nil, "tokens:\n  - name: a\n    role: viewer\n    hash: %s\n    %s\n", h1, tc.extra))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err = %v, want a FieldError of %s", err, tc.field)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(sec, "whsec_")) || strings.Contains(err.Error(), strings.TrimPrefix(priv, "whsk_")) {
				t.Errorf("error %q echoes a key", err)
			}
		})
	}
}

func TestPrincipalVerifySignature(t *testing.T) {
	sec := webhook.NewSecret()
	s, _ := webhook.ParseSecret(sec)
	no := false
	toks := NewTokens([]Entry{
		{Name: "req", Role: RoleProducer, Modules: []string{"*"}, Hash: h1, SigningSecrets: []string{sec}},
		{Name: "opt", Role: RoleProducer, Modules: []string{"*"}, Hash: h2, SigningSecrets: []string{sec}, RequireSignature: &no},
		{Name: "none", Role: RoleProducer, Modules: []string{"*"}, Hash: h3},
		{Name: "broken", Role: RoleProducer, Modules: []string{"*"}, Hash: HashSecret("s4"), SigningSecrets: []string{"whsec_bad"}},
	})
	now := time.Now()
	body := []byte(`{}`)
	signed := http.Header{}
	webhook.SetHeadersID(signed, "msg_x", body, now, s)
	bad := signed.Clone()
	bad.Set(webhook.HeaderSignature, webhook.Sign("msg_x", now, []byte(`{ }`), s))
	for _, tc := range []struct {
		secret string
		h      http.Header
		id     string
		err    error
	}{
		{"s1", signed, "msg_x", nil},
		{"s1", http.Header{}, "", webhook.ErrMissing},
		{"s1", bad, "", webhook.ErrNoSignature},
		{"s2", http.Header{}, "", nil},
		{"s2", signed, "msg_x", nil},
		{"s2", bad, "", webhook.ErrNoSignature},
		{"s3", bad, "", nil},
	} {
		p, err := toks.Authenticate("Bearer " + tc.secret)
		if err != nil {
			t.Fatal(err)
		}
		id, err := p.VerifySignature(tc.h, body, 0, now)
		if id != tc.id || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("%s: VerifySignature = %q, %v; want %q, %v", p.Name, id, err, tc.id, tc.err)
		}
	}
	if _, err := toks.Authenticate("Bearer s4"); err == nil {
		t.Error("a token whose signing key does not parse authenticates")
	}
}
