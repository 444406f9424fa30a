package server

import (
	"bytes"
	"encoding/json"

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
