package server

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// validate returns why the Bucket cannot store r, or "" if it can: it needs
// an id, a module, and data that is a JSON object, as object judges it.
func validate(r bucket.Record, object func(json.RawMessage) bool) string {
	switch {
	case r.ID == "":
		return "id is required"
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

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}
