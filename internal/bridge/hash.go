package bridge

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// ContentHash returns a record's content hash: the lowercase hex SHA-256 of
// its canonical form, which is five fields in this order, each written as
// its length in bytes (an unsigned 64-bit big-endian integer) followed by
// its bytes:
//
//	module, session_id, data, received_at, id
//
// Strings are their UTF-8 bytes (as a JSON decoder yields them); data is
// the record's JSON object byte for byte as it is sent (the bridge sends
// the compact form it stored, and a receiver hashes the bytes of the
// "data" value exactly as they arrived, whitespace included); received_at
// is the text on the wire (FormatTime: RFC 3339, UTC, microseconds, Z).
// The lengths make the form unambiguous: no choice of field values can
// make two different records write the same bytes.
//
// It is the `hash` of the Bucket protocol (package bucket), by which a
// Bucket tells a redelivery (same hash) from other data under a known id.
// The order is the one the tamper-evident log (issue 18) names, so that
// it can reuse this function.
func ContentHash(module, sessionID string, data []byte, receivedAt, id string) string {
	sum := contentSum(module, sessionID, data, receivedAt, id)
	return hex.EncodeToString(sum[:])
}

// ContentSum is ContentHash as the 32 bytes of the digest.
func ContentSum(module, sessionID string, data []byte, receivedAt, id string) [sha256.Size]byte {
	return contentSum(module, sessionID, data, receivedAt, id)
}

// ContentHash is the content hash of r as it goes on the wire.
func (r Record) ContentHash() string {
	return ContentHash(r.Module, r.SessionID, r.Data, FormatTime(r.ReceivedAt), r.ID)
}

func contentSum(module, sessionID string, data []byte, receivedAt, id string) [sha256.Size]byte {
	// A usual record (~300 bytes) is laid out on the stack and hashed in
	// one call; a larger one spills to the heap.
	var buf [512]byte
	b := buf[:0]
	b = appendField(b, module)
	b = appendField(b, sessionID)
	b = binary.BigEndian.AppendUint64(b, uint64(len(data)))
	b = append(b, data...)
	b = appendField(b, receivedAt)
	b = appendField(b, id)
	return sha256.Sum256(b)
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}
