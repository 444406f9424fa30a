// Package bucket is the Bucket protocol for its senders: the wire types, the client, and its errors.
//
// The Bucket stores by record id, so a redelivery is a no-op answered
// "duplicate"; it answers one result per record, in the order of the
// request. The reference Bucket server is internal/bucket/server.
//
// Each record carries its content hash, `hash` (bridge.ContentHash: the
// lowercase hex SHA-256 of the length-prefixed module, session_id, data,
// received_at and id). A Bucket that knows the field checks it on arrival
// (a hash that does not match its record is `rejected`) and keeps it with
// the record; when it already holds the id it compares hashes: the same
// hash, or a held record without one, is a redelivery (`duplicate`);
// another hash is `conflict`: the Bucket keeps what it stored first and
// the new content is not stored. That happens when a dead letter the
// Bucket had in fact stored (its answer was lost) is edited and replayed.
// The bridge makes such a record dead with deliver.ConflictReason, never
// synced. A record without `hash` (an older bridge) is accepted as
// before; a Bucket that ignores the field never answers `conflict`, and
// the bridge treats it as before. docs/protocol.md is the whole protocol
// (the canonical form byte by byte, with a test vector that a test checks).
package bucket

import (
	"encoding/json"

	"corebridge/internal/bridge"
)

// Per-record outcomes of POST /v1/records.
const (
	StatusStored    = "stored"    // new: the Bucket now holds it
	StatusDuplicate = "duplicate" // the Bucket already held this id: a no-op
	StatusRejected  = "rejected"  // refused for good; Error says why
	// StatusConflict: the Bucket already holds this id with another
	// content hash; it keeps what it holds and did not store this.
	StatusConflict = "conflict"
)

// Record is one record on the wire. Data is a JSON object, passed through
// byte for byte; ReceivedAt is when the bridge accepted it (bridge.FormatTime).
type Record struct {
	ID         string          `json:"id"`
	Module     string          `json:"module"`
	SessionID  string          `json:"session_id"`
	Data       json.RawMessage `json:"data"`
	ReceivedAt string          `json:"received_at"`
	// Hash is the content hash (bridge.ContentHash) of the other fields;
	// "" from a sender that does not send one.
	Hash string `json:"hash,omitempty"`
	// PrevHash chains the record to the one its module accepted before it
	// (the tamper-evident log): that record's content hash at acceptance,
	// or ZeroHash for a module's first record. "" from a sender that does
	// not send one (an older bridge, a record accepted before the chain).
	PrevHash string `json:"prev_hash,omitempty"`
	// FirstHash is sent only for a record whose data an operator edited
	// after acceptance: its content hash at acceptance, which its
	// successor's PrevHash names. Hash is that of the data as sent.
	FirstHash string `json:"first_hash,omitempty"`
}

// Request is the body of POST /v1/records.
type Request struct {
	Records []Record `json:"records"`
}

// Result is the outcome of one record of a Request.
type Result struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Response is the 200 answer of POST /v1/records: one Result per record of
// the Request, in the same order.
type Response struct {
	Results []Result `json:"results"`
}

// StoredRecord is a record as the Bucket holds it, with when it stored it.
type StoredRecord struct {
	Record
	StoredAt string `json:"stored_at"`
}

// Page is the answer of GET /v1/records. NextAfter is the id of the page's
// last record, to pass as after for the next page; "" for an empty page.
type Page struct {
	Records   []StoredRecord `json:"records"`
	NextAfter string         `json:"next_after"`
}

// Stats is the answer of GET /v1/stats: records held, in all and per module.
type Stats struct {
	Total   int64            `json:"total"`
	Modules map[string]int64 `json:"modules"`
}

// WireRecords converts the bridge's records to what goes on the wire.
func WireRecords(recs []bridge.Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = Record{
			ID:         r.ID,
			Module:     r.Module,
			SessionID:  r.SessionID,
			Data:       r.Data,
			ReceivedAt: bridge.FormatTime(r.ReceivedAt),
		}
		out[i].Hash = bridge.ContentHash(r.Module, r.SessionID, r.Data, out[i].ReceivedAt, r.ID)
		if r.PrevHash != "" {
			out[i].PrevHash = r.PrevHash
			if r.Hash != "" && r.Hash != out[i].Hash {
				out[i].FirstHash = r.Hash // edited since acceptance
			}
		}
	}
	return out
}
