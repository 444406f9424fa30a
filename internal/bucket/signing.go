package bucket

import (
	"errors"
	"fmt"
	"strings"

	"corebridge/internal/webhook"
)

// ParseSecrets reads a file of Standard Webhooks secrets: one whsec_… per
// line (several while a secret is rotated); blank lines and lines starting
// with # are skipped. None, an invalid line, or more than
// webhook.MaxSignatures is an error, which names the line, never its
// content.
func ParseSecrets(b []byte) ([]webhook.Secret, error) {
	var secrets []webhook.Secret
	n := 0
	for line := range strings.Lines(string(b)) {
		n++
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := webhook.ParseSecret(line)
		if err != nil {
			// webhook's errors describe the form, never the key.
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		secrets = append(secrets, s)
	}
	switch {
	case len(secrets) == 0:
		return nil, errors.New("holds no whsec_ secret")
	case len(secrets) > webhook.MaxSignatures:
		return nil, fmt.Errorf("holds %d secrets; at most %d", len(secrets), webhook.MaxSignatures)
	}
	return secrets, nil
}

// WatchSecrets watches a file of secrets (see ParseSecrets), re-read when
// it changes; a missing, empty or invalid file is an error at start, and
// later keeps the last good secrets.
func WatchSecrets(path string, o WatchOptions) (*WatchedFile[[]webhook.Secret], error) {
	return WatchFile(path, ParseSecrets, o)
}

// WithSigner signs every request with a body (POST /v1/records) by the
// Standard Webhooks scheme: a fresh webhook-id per request, the time now
// as webhook-timestamp, and a webhook-signature with each secret secrets
// returns (space-separated, for rotation). It is called per request, so
// its answer may change (a secret file re-read). The signature is set after
// the headers of WithHeaders; with no secrets nothing is signed.
func WithSigner(secrets func() []webhook.Secret) Option {
	return func(o *clientOptions) { o.signer = secrets }
}
