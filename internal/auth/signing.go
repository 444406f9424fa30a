package auth

import (
	"fmt"
	"net/http"
	"time"

	"corebridge/internal/webhook"
)

// maxSigningKeys bounds the keys of one token: two are enough to rotate.
const maxSigningKeys = 4

// signing is what verifies a principal's signed requests. It holds keys
// and is unexported, so a Principal printed or marshalled shows none.
type signing struct {
	keys     webhook.Keys
	required bool
}

func (e Entry) hasSigning() bool { return len(e.SigningSecrets) > 0 || len(e.SigningKeys) > 0 }

// signing parses the entry's keys; Validate has checked them.
func (e Entry) signing() (*signing, error) {
	s := &signing{required: e.RequireSignature == nil || *e.RequireSignature}
	for _, v := range e.SigningSecrets {
		k, err := webhook.ParseSecret(v)
		if err != nil {
			return nil, err
		}
		s.keys.Secrets = append(s.keys.Secrets, k)
	}
	for _, v := range e.SigningKeys {
		k, err := webhook.ParsePublicKey(v)
		if err != nil {
			return nil, err
		}
		s.keys.Public = append(s.keys.Public, k)
	}
	return s, nil
}

// validSigning checks signing_secrets, signing_keys and require_signature.
// Errors name the field and the index, never the value.
func (e Entry) validSigning() error {
	if e.RequireSignature != nil && *e.RequireSignature && !e.hasSigning() {
		return &FieldError{"require_signature", "true needs signing_secrets or signing_keys to verify with"}
	}
	check := func(field string, vals []string, parse func(string) error) error {
		if len(vals) > maxSigningKeys {
			return &FieldError{field, fmt.Sprintf("at most %d (two are enough to rotate)", maxSigningKeys)}
		}
		seen := make(map[string]bool, len(vals))
		for i, v := range vals {
			if err := parse(v); err != nil {
				return &FieldError{field, fmt.Sprintf("[%d]: %v", i, err)}
			}
			if seen[v] {
				return &FieldError{field, fmt.Sprintf("[%d]: listed twice", i)}
			}
			seen[v] = true
		}
		return nil
	}
	if err := check("signing_secrets", e.SigningSecrets, func(s string) error { _, err := webhook.ParseSecret(s); return err }); err != nil {
		return err
	}
	return check("signing_keys", e.SigningKeys, func(s string) error { _, err := webhook.ParsePublicKey(s); return err })
}

// SignatureRequired says whether every request of p must be signed.
func (p *Principal) SignatureRequired() bool {
	return p != nil && p.signing != nil && p.signing.required
}

// VerifySignature checks the Standard Webhooks headers of a request of p
// against p's signing keys (see internal/webhook). It returns the
// request's webhook-id when a signature was checked and holds, "" and nil
// when p has no keys, or has keys but does not require a signature and
// the request carries none of the three headers. Otherwise the error is
// one of internal/webhook's.
func (p *Principal) VerifySignature(h http.Header, body []byte, tolerance time.Duration, now time.Time) (string, error) {
	if p == nil || p.signing == nil || !p.signing.required && !webhook.Present(h) {
		return "", nil
	}
	if err := webhook.VerifyHeader(h, body, p.signing.keys, tolerance, now); err != nil {
		return "", err
	}
	return h.Get(webhook.HeaderID), nil
}
