package server

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// validate returns why the Bucket cannot store r, or "" if it can: it needs
// an id, a module, and data that is a JSON object, as object judges it.
func validate(r bucket.Record, object func(json.RawMessage) bool) string {
	switch {
	case r.ID == "":
		return "id is required"
	case !utf8.ValidString(r.ID) || strings.IndexByte(r.ID, 0) >= 0:
		// Reconciliation cuts ids by characters in Go and in SQL (the
		// triggers' substr) alike: SQL counts invalid bytes otherwise and
		// stops at a NUL. (A JSON body's ids are always valid UTF-8.)
		return "id must be valid UTF-8 without NUL (\\u0000)"
	case r.Module == "":
		return "module is required"
	case !object(r.Data):
		return "data must be a JSON object"
	}
	return ""
}

// isObject reports whether data is one JSON object. Data decoded from a
// request is valid JSON already; the check guards Store.Put's other callers.
func isObject(data json.RawMessage) bool {
	return startsObject(data) && json.Valid(data)
}

// startsObject is isObject for data known to be one JSON value.
func startsObject(data json.RawMessage) bool {
	d := bytes.TrimLeft(data, " \t\r\n")
	return len(d) > 0 && d[0] == '{'
}

// verifyHash checks r's content hash, if it came with one, and returns its
// 32 bytes to store (nil for none), or why r is refused: a hash that is
// not 64 hex digits, or one that does not match r's content (changed on
// the way, or a sender whose canonical form differs from
// bridge.ContentHash).
func verifyHash(r bucket.Record) ([]byte, string) {
	if r.Hash == "" {
		return nil, ""
	}
	var got [32]byte
	if len(r.Hash) != 2*len(got) {
		return nil, "hash must be 64 hex digits (SHA-256), not " + quoteShort(r.Hash)
	}
	if _, err := hex.Decode(got[:], []byte(r.Hash)); err != nil {
		return nil, "hash must be 64 hex digits (SHA-256), not " + quoteShort(r.Hash)
	}
	want := bridge.ContentSum(r.Module, r.SessionID, r.Data, r.ReceivedAt, r.ID)
	if got != want {
		return nil, "hash does not match the record's content (SHA-256 of the length-prefixed module, session_id, data, received_at, id is " +
			hex.EncodeToString(want[:]) + ")"
	}
	return want[:], ""
}

// chainHashes returns r's prev_hash and first_hash as 32 bytes each to
// store (nil for none), or why r is refused: one that is not 64 hex
// digits. They are kept, not checked against other records: the chain
// report (GET /v1/reconcile/chain) does that.
func chainHashes(r bucket.Record) (prev, first []byte, msg string) {
	if prev, msg = hexHash("prev_hash", r.PrevHash); msg != "" {
		return nil, nil, msg
	}
	if first, msg = hexHash("first_hash", r.FirstHash); msg != "" {
		return nil, nil, msg
	}
	return prev, first, ""
}

// hexHash reads the member name's 64 hex digits ("" is none: nil).
func hexHash(name, v string) ([]byte, string) {
	if v == "" {
		return nil, ""
	}
	h, err := bucket.ParseHash(v)
	if err != nil {
		return nil, name + " must be 64 hex digits (SHA-256), not " + quoteShort(v)
	}
	return h[:], ""
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}
