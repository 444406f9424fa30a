// Package bucket is the Bucket protocol, the bridge's link to the central
// API: the wire types, the client that the forwarder sends batches with,
// and a real reference Bucket server (`corebridge bucket`, or embedded in
// serve) with its own SQLite store. The Bucket stores by record id, so a
// redelivery is a no-op answered "duplicate"; it answers one result per
// record, in the order of the request.
package bucket

import (
	"bytes"
	"encoding/json"

	"corebridge/internal/bridge"
)

// Per-record outcomes of POST /v1/records.
const (
	StatusStored    = "stored"    // new: the Bucket now holds it
	StatusDuplicate = "duplicate" // the Bucket already held this id: a no-op
	StatusRejected  = "rejected"  // refused for good; Error says why
)

// Limits of the reference Bucket.
const (
	MaxBody          = 16 << 20 // bytes of one POST /v1/records body
	DefaultListLimit = 100      // records per GET /v1/records page
	MaxListLimit     = 1000
)

// Record is one record on the wire. Data is a JSON object, passed through
// byte for byte; ReceivedAt is when the bridge accepted it (bridge.FormatTime).
type Record struct {
	ID         string          `json:"id"`
	Module     string          `json:"module"`
	SessionID  string          `json:"session_id"`
	Data       json.RawMessage `json:"data"`
	ReceivedAt string          `json:"received_at"`
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
	}
	return out
}

// Validate returns why the Bucket cannot store r, or "" if it can: it needs
// an id, a module, and data that is a JSON object.
func (r Record) Validate() string { return r.validate(isObject) }

func (r Record) validate(object func(json.RawMessage) bool) string {
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
