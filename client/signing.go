package client

import (
	"errors"
	"net/http"
	"time"

	"corebridge/internal/webhook"
)

// WithSigningSecret makes every request that has a body carry a Standard
// Webhooks signature (webhook-id, webhook-timestamp, webhook-signature)
// made with secret, "whsec_<base64>" as the bridge's auth file lists it
// under signing_secrets. Each request gets a fresh random webhook-id and
// the current time. An empty secret adds nothing. Given twice (an old and a new secret during a
// rotation), every request is signed with both. A secret that does not
// parse makes every request fail with an error that does not show it.
func WithSigningSecret(secret string) Option {
	return func(o *options) { o.secrets = append(o.secrets, secret) }
}

// signer adds the signature headers; the zero signer adds none.
type signer struct {
	secrets []webhook.Secret
	err     error
	now     func() time.Time
}

func newSigner(secrets []string) signer {
	s := signer{now: time.Now}
	for _, v := range secrets {
		if v == "" {
			continue
		}
		k, err := webhook.ParseSecret(v)
		if err != nil {
			s.err = errors.New("WithSigningSecret: " + err.Error())
			return s
		}
		s.secrets = append(s.secrets, k)
	}
	return s
}

func (s signer) headers(h http.Header, body []byte) error {
	if s.err != nil {
		return s.err
	}
	webhook.SetHeaders(h, body, s.now(), s.secrets...)
	return nil
}
