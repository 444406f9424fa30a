package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/webhook"
)

// requireSignature wraps next: POST /v1/records must carry a Standard
// Webhooks signature (webhook-id, webhook-timestamp, webhook-signature) by
// one of the secrets secrets returns, with a timestamp within tolerance of
// now, or it is answered 401 and nothing is stored. Other routes carry no
// body and pass. secrets is asked per request, so a file re-read takes
// effect.
func requireSignature(s *Server, secrets func() []webhook.Secret, tolerance time.Duration, now func() time.Time, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/records" {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > s.maxBody {
			writeError(w, r, s, bridge.Errorf(bridge.ETOOLARGE, "body is %d bytes, over the limit of %d", r.ContentLength, s.maxBody))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, r, s, bridge.Errorf(bridge.ETOOLARGE, "body is over the limit of %d bytes", s.maxBody))
			return
		} else if err != nil {
			writeError(w, r, s, bridge.Errorf(bridge.EINVALID, "read body: %v", err))
			return
		}
		if err := webhook.VerifyHeader(r.Header, body, webhook.Keys{Secrets: secrets()}, tolerance, now()); err != nil {
			msg := err.Error()
			if errors.Is(err, webhook.ErrNoSignature) {
				msg = "no signature matches a secret of this bucket"
			}
			// The message names the problem, never a secret.
			s.log.Warn("bucket request refused: bad signature", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "err", msg)
			writeError(w, r, s, bridge.Errorf(bridge.EUNAUTHORIZED, "signature refused: %s", msg))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}
