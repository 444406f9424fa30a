package api

import (
	"errors"
	"net/http"
	"strconv"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
	"corebridge/internal/webhook"
)

// verifySignature checks the Standard Webhooks signature of an ingest
// request whose principal has signing keys (see auth.Principal
// .VerifySignature), before anything of the body is decoded. It returns
// the request's webhook-id when a signature was checked, "" when none was
// needed. A failure is a 401 naming the problem, never a key.
func (s *Server) verifySignature(r *http.Request, body []byte) (string, error) {
	p := auth.FromContext(r.Context())
	id, err := p.VerifySignature(r.Header, body, s.cfg.SignatureTolerance, s.cfg.Now())
	if err != nil {
		s.insight.SignatureFailure(signatureReason(err))
		return "", bridge.Errorf(bridge.EUNAUTHORIZED, "signature refused: %v", err)
	}
	return id, nil
}

func signatureReason(err error) string {
	for _, r := range []struct {
		err    error
		reason string
	}{
		{webhook.ErrMissing, "missing"}, {webhook.ErrBadID, "bad_id"}, {webhook.ErrBadTime, "bad_timestamp"},
		{webhook.ErrTooOld, "too_old"}, {webhook.ErrTooNew, "too_new"}, {webhook.ErrMalformed, "malformed"},
	} {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "no_match"
}

// signedKey makes a signed request's webhook-id the idempotency key of
// its update (of item i of a batch: "<webhook-id>/<i>"; i < 0 for a single
// update), unless the update carries its own key. A replayed request so
// stores nothing new.
func signedKey(u *bridge.Update, sigID string, i int) {
	if sigID == "" || u.IdempotencyKey != "" {
		return
	}
	if i < 0 {
		u.IdempotencyKey = sigID
	} else {
		u.IdempotencyKey = sigID + "/" + strconv.Itoa(i)
	}
}

// countReplay counts a signed request all of whose records were stored
// before: a replay (or a retry) of a request already taken in.
func (s *Server) countReplay(sigID string, res []bridge.Appended) {
	if sigID == "" || len(res) == 0 {
		return
	}
	for _, a := range res {
		if !a.Duplicate {
			return
		}
	}
	s.insight.SignatureReplay()
}
