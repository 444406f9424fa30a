package api

import (
	"errors"
	"fmt"
	"net/http"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
)

// keyOwner is whom an idempotency key belongs to (ingest.DedupeKey): the
// request's principal, or "" when the API runs without authentication.
func (s *Server) keyOwner(r *http.Request) string {
	if s.cfg.Auth == nil {
		return ""
	}
	if p := auth.FromContext(r.Context()); p != nil {
		return p.Name
	}
	return ""
}

// conflictType is the 422 detail type of a reused idempotency key.
const conflictType = "idempotency_key_reused"

// updateConflict turns the store's KeyConflict for the update u of r into
// the answer a producer reads: 422 naming where the key came from (the
// Idempotency-Key header, the body's idempotency_key, or a signed
// request's webhook-id; ownKey says whether the update carried a key
// before the signature's was applied), the record that holds it and
// what differs. 422, not 409, as the IETF draft "The Idempotency-Key HTTP
// Header Field" says for a key reused with another payload: the request
// is wrong and resending it cannot succeed, whereas 409 there means the
// first request is still being processed. Any other error is returned as
// it is.
func updateConflict(err error, r *http.Request, u bridge.Update, ownKey bool) error {
	var kc *bridge.KeyConflict
	if !errors.As(err, &kc) {
		return err
	}
	var loc []any
	var what string
	switch {
	case r.Header.Get("Idempotency-Key") != "":
		loc, what = []any{"header", "idempotency-key"}, fmt.Sprintf("Idempotency-Key %q", u.IdempotencyKey)
	case ownKey:
		loc, what = []any{"body", "idempotency_key"}, fmt.Sprintf("idempotency_key %q", u.IdempotencyKey)
	case u.IdempotencyKey != "":
		loc, what = []any{"header", "webhook-id"}, fmt.Sprintf("webhook-id %q (the idempotency key of a signed request)", u.IdempotencyKey)
	default: // content dedupe: only a hash collision gets here
		loc, what = []any{"body"}, "this update's content key"
	}
	msg := fmt.Sprintf("%s was already used by record %s with a different payload (its %s differs); nothing was stored",
		what, kc.OriginalID, kc.Field)
	return &bridge.Error{Code: bridge.EINVALID, Message: msg, Err: err,
		Fields: []bridge.FieldError{{Loc: loc, Msg: msg, Type: conflictType}}}
}

// batchConflict is updateConflict for POST /core/updates: the whole batch
// is refused (one transaction), and the answer names the item, as the
// batch's validation errors do: its idempotency_key field, or the
// request's webhook-id when the item's key came from the signature.
func batchConflict(err error, body []byte, ups []bridge.Update) error {
	var kc *bridge.KeyConflict
	if !errors.As(err, &kc) || kc.Index < 0 || kc.Index >= len(ups) {
		return err
	}
	item := bridge.BatchItemLoc(body, kc.Index)
	u := ups[kc.Index]
	loc, what := append(item, "idempotency_key"), fmt.Sprintf("idempotency_key %q", u.IdempotencyKey)
	if u.IdempotencyKey == "" {
		loc, what = []any{"header", "webhook-id"}, fmt.Sprintf("webhook-id (the idempotency key of item %d of a signed batch)", kc.Index)
	}
	msg := fmt.Sprintf("item %d: %s was already used by record %s with a different payload (its %s differs); nothing of the batch was stored",
		kc.Index, what, kc.OriginalID, kc.Field)
	return &bridge.Error{Code: bridge.EINVALID, Message: msg, Err: err,
		Fields: []bridge.FieldError{{Loc: loc, Msg: msg, Type: conflictType}}}
}
