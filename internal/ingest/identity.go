package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"corebridge/internal/bridge"

	"github.com/google/uuid"
)

// Identify gives a valid update its identity: a time-ordered record id, a
// session id if the producer sent none, the acceptance time now, and the
// key under which a resend of it is recognised (DedupeKey).
func Identify(u bridge.Update, now time.Time) bridge.NewRecord {
	if u.SessionID == "" {
		// A generated session id cannot repeat, so content dedupe does not apply.
		u.SessionID = uuid.NewString()
		if u.IdempotencyKey == "" {
			return bridge.NewRecord{ID: NewID(), Module: u.Module, SessionID: u.SessionID, Data: u.Data, ReceivedAt: now}
		}
	}
	return bridge.NewRecord{ID: NewID(), Module: u.Module, SessionID: u.SessionID, Data: u.Data,
		ReceivedAt: now, DedupeKey: DedupeKey(u)}
}

// NewID returns a new record id: a UUIDv7, so that ids sort by creation time.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// DedupeKey returns the key under which duplicates of u are recognised, so
// that a producer's resend is absorbed (README, "Duplicates are absorbed"):
// the idempotency key when there is one, else module + session_id + data.
// An update without either has no key: it is always new.
func DedupeKey(u bridge.Update) string {
	h := sha256.New()
	switch {
	case u.IdempotencyKey != "":
		h.Write([]byte("k\x00"))
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
