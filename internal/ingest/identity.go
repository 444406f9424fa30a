package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"corebridge/internal/bridge"

	"github.com/google/uuid"
)

// Defaults of the dedupe windows (serve's --dedupe-window and
// --content-dedupe-window).
const (
	// DefaultDedupeWindow is how long an Idempotency-Key is remembered:
	// Stripe's 24 hours.
	DefaultDedupeWindow = 24 * time.Hour
	// DefaultContentDedupeWindow is how long an update without a key is a
	// resend of an identical one (same module, session_id and data):
	// retries after a lost answer come within seconds or minutes; a
	// reading repeated later is new data.
	DefaultContentDedupeWindow = 5 * time.Minute
)

// Dedupe is the dedupe policy: how long each kind of key holds.
type Dedupe struct {
	// KeyWindow is how long an explicit idempotency key (the
	// Idempotency-Key header, a batch item's idempotency_key, a signed
	// request's webhook-id) is remembered; <= 0: no bound.
	KeyWindow time.Duration
	// ContentWindow is how long an update without a key but with a
	// session_id is a duplicate of an identical stored one; <= 0: content
	// dedupe is off and every such update is stored.
	ContentWindow time.Duration
}

// DefaultDedupe is the policy with both default windows.
var DefaultDedupe = Dedupe{KeyWindow: DefaultDedupeWindow, ContentWindow: DefaultContentDedupeWindow}

// Identify gives a valid update its identity: a time-ordered record id, a
// session id if the producer sent none, the acceptance time now, and the
// key under which a resend of it is recognised (DedupeKey) with how far
// back that looks (DedupeSince). principal is the name of who sent it ("" when
// the API runs without authentication): an idempotency key is theirs.
func (d Dedupe) Identify(u bridge.Update, principal string, now time.Time) bridge.NewRecord {
	r := bridge.NewRecord{ID: NewID(), Module: u.Module, SessionID: u.SessionID, Data: u.Data, ReceivedAt: now}
	window := d.ContentWindow
	if u.IdempotencyKey != "" {
		window = d.KeyWindow
	} else if u.SessionID == "" {
		// A generated session id cannot repeat, so content dedupe does
		// not apply.
		r.SessionID = uuid.NewString()
		return r
	} else if d.ContentWindow <= 0 {
		return r // content dedupe is off
	}
	r.DedupeKey = DedupeKey(u, principal)
	if u.SessionID == "" {
		// A keyed update without a session gets one derived from its key,
		// so that a resend names the same session and is the same update.
		r.SessionID = uuid.NewSHA1(sessionSpace, []byte(r.DedupeKey)).String()
	}
	if window > 0 {
		r.DedupeSince = now.Add(-window)
	}
	return r
}

// sessionSpace is the UUID namespace of session ids derived from keys.
var sessionSpace = uuid.MustParse("6f3c1d0e-2b8a-4f57-9c1e-5d2f7a9b4e10")

// NewID returns a new record id: a UUIDv7, so that ids sort by creation time.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// DedupeKey returns the key under which duplicates of u are recognised, so
// that a producer's resend is absorbed (README, "Duplicates are absorbed").
// An idempotency key is scoped to who sent it and to the module (Stripe's
// rule): the same key from another principal or for another module is
// another key. Without one, the key is module + session_id + data. An
// update without either has no key: it is always new.
func DedupeKey(u bridge.Update, principal string) string {
	h := sha256.New()
	switch {
	case u.IdempotencyKey != "":
		h.Write([]byte("k\x00"))
		h.Write([]byte(principal))
		h.Write([]byte{0})
		h.Write([]byte(u.Module))
		h.Write([]byte{0})
		h.Write([]byte(u.IdempotencyKey))
	case u.SessionID != "":
		h.Write([]byte("c\x00"))
		h.Write([]byte(u.Module))
		h.Write([]byte{0})
		h.Write([]byte(u.SessionID))
		h.Write([]byte{0})
		h.Write(u.Data)
	default:
		return ""
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
