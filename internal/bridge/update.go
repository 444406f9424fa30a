package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Limits on an update, as the API documents them.
const (
	MaxModuleLen    = 64
	MaxSessionIDLen = 128
	MaxDepth        = 64
	MaxBatchItems   = 1000
)

// ModulePattern is the rule for module names, as shown in error messages.
const ModulePattern = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`

// Update is what a Core module sends: one record's worth of data.
type Update struct {
	Module    string
	Data      json.RawMessage // compact JSON object
	SessionID string          // "" when the producer sent none
	// IdempotencyKey, when set, is what identifies the update for dedupe
	// instead of its content.
	IdempotencyKey string
}

// DecodeUpdate parses and validates the body of POST /core/update. On
// failure it returns an EINVALID *Error listing every problem found.
func DecodeUpdate(body []byte) (Update, error) {
	if err := checkJSON(body, MaxDepth); err != nil {
		return Update{}, invalid(*err)
	}
	u, fes := decodeItem(body, []any{"body"})
	if len(fes) > 0 {
		return Update{}, invalid(fes...)
	}
	return u, nil
}

// BatchItemLoc is where item i of a /core/updates body is, for a field
// error: ["body", "updates", i] in the wrapped form, ["body", i] in a bare
// list (as DecodeBatch reports its own errors).
func BatchItemLoc(body []byte, i int) []any {
	if firstByte(body) == '[' {
		return []any{"body", i}
	}
	return []any{"body", "updates", i}
}

// DecodeBatch parses and validates the body of POST /core/updates: either
// {"updates":[update, …]} or a bare [update, …], 1 to MaxBatchItems items.
// Nothing is returned unless every item is valid.
func DecodeBatch(body []byte) ([]Update, error) {
	// An item may nest as deep as a single update: the wrapper object and
	// its list add two levels, a bare list one.
	maxDepth := MaxDepth + 2
	if firstByte(body) == '[' {
		maxDepth = MaxDepth + 1
	}
	if err := checkJSON(body, maxDepth); err != nil {
		return nil, invalid(*err)
	}
	var items [][]byte
	loc := []any{"body"}
	switch firstByte(body) {
	case '[':
		var ok bool
		if items, ok = arrayItems(body); !ok {
			return nil, invalid(FieldError{Loc: loc, Msg: "Input should be a valid list", Type: "list_type"})
		}
	case '{':
		members, ok := objectMembers(body)
		if !ok {
			return nil, invalid(FieldError{Loc: loc, Msg: "Input should be a valid dictionary or object to extract fields from", Type: "model_attributes_type"})
		}
		loc = []any{"body", "updates"}
		var raw []byte
		for _, m := range members { // the last of a name counts, as in encoding/json
			if m.name == "updates" {
				raw = m.value
			}
		}
		if raw == nil {
			return nil, invalid(FieldError{Loc: loc, Msg: "Field required", Type: "missing"})
		}
		if firstByte(raw) != '[' {
			return nil, invalid(FieldError{Loc: loc, Msg: "Input should be a valid list", Type: "list_type"})
		}
		if items, ok = arrayItems(raw); !ok {
			return nil, invalid(FieldError{Loc: loc, Msg: "Input should be a valid list", Type: "list_type"})
		}
	default:
		return nil, invalid(FieldError{Loc: loc, Msg: "Input should be a valid list", Type: "list_type"})
	}
	if len(items) == 0 {
		return nil, invalid(FieldError{Loc: loc, Msg: "List should have at least 1 item after validation, not 0", Type: "too_short"})
	}
	if len(items) > MaxBatchItems {
		return nil, invalid(FieldError{Loc: loc, Msg: fmt.Sprintf("List should have at most %d items after validation, not %d", MaxBatchItems, len(items)), Type: "too_long"})
	}
	ups := make([]Update, len(items))
	var all []FieldError
	for i, raw := range items {
		itemLoc := append(append([]any{}, loc...), i)
		u, fes := decodeItem(raw, itemLoc)
		all = append(all, fes...)
		ups[i] = u
	}
	if len(all) > 0 {
		return nil, invalid(all...)
	}
	return ups, nil
}

func invalid(fes ...FieldError) *Error {
	msg := "invalid request body"
	if len(fes) > 0 {
		msg = fmt.Sprintf("%v: %s", fes[0].Loc, fes[0].Msg)
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fes}
}

// decodeItem validates one update object already known to be valid JSON.
func decodeItem(raw []byte, loc []any) (Update, []FieldError) {
	at := func(field string) []any { return append(append([]any{}, loc...), field) }
	if firstByte(raw) != '{' {
		return Update{}, []FieldError{{Loc: loc, Msg: "Input should be a valid dictionary or object to extract fields from", Type: "model_attributes_type"}}
	}
	members, ok := objectMembers(raw)
	if !ok {
		return Update{}, []FieldError{{Loc: loc, Msg: "Input should be a valid dictionary or object to extract fields from", Type: "model_attributes_type"}}
	}
	obj := make(map[string]json.RawMessage, 4)
	for _, m := range members { // the last of a name counts, as in encoding/json
		switch m.name {
		case "module", "data", "session_id", "idempotency_key":
			obj[m.name] = m.value
		}
	}
	var u Update
	var fes []FieldError

	// module: required, non-empty, matching ModulePattern.
	if m, ok := obj["module"]; !ok {
		fes = append(fes, FieldError{Loc: at("module"), Msg: "Field required", Type: "missing"})
	} else if s, ok := jsonString(m); !ok {
		fes = append(fes, FieldError{Loc: at("module"), Msg: "Input should be a valid string", Type: "string_type"})
	} else if s == "" {
		fes = append(fes, FieldError{Loc: at("module"), Msg: "String should have at least 1 character", Type: "string_too_short"})
	} else if !validModule(s) {
		fes = append(fes, FieldError{Loc: at("module"), Msg: "String should match pattern '" + ModulePattern + "'", Type: "string_pattern_mismatch"})
	} else {
		u.Module = s
	}

	// data: required JSON object, stored compact.
	if d, ok := obj["data"]; !ok {
		fes = append(fes, FieldError{Loc: at("data"), Msg: "Field required", Type: "missing"})
	} else if firstByte(d) != '{' {
		fes = append(fes, FieldError{Loc: at("data"), Msg: "Input should be a valid dictionary", Type: "dict_type"})
	} else {
		var buf bytes.Buffer
		buf.Grow(len(d))
		if err := json.Compact(&buf, d); err != nil { // cannot happen: checked valid
			fes = append(fes, FieldError{Loc: at("data"), Msg: "Input should be a valid dictionary", Type: "dict_type"})
		}
		u.Data = buf.Bytes()
	}

	// session_id: optional string (null and "" mean absent), at most 128 characters.
	if sid, ok := obj["session_id"]; ok && !isNull(sid) {
		if s, ok := jsonString(sid); !ok {
			fes = append(fes, FieldError{Loc: at("session_id"), Msg: "Input should be a valid string", Type: "string_type"})
		} else if utf8.RuneCountInString(s) > MaxSessionIDLen {
			fes = append(fes, FieldError{Loc: at("session_id"), Msg: fmt.Sprintf("String should have at most %d characters", MaxSessionIDLen), Type: "string_too_long"})
		} else {
			u.SessionID = s
		}
	}

	// idempotency_key: optional string, for batch items (single updates may
	// use the Idempotency-Key header instead).
	if k, ok := obj["idempotency_key"]; ok && !isNull(k) {
		if s, ok := jsonString(k); !ok {
			fes = append(fes, FieldError{Loc: at("idempotency_key"), Msg: "Input should be a valid string", Type: "string_type"})
		} else if len(s) > 255 {
			fes = append(fes, FieldError{Loc: at("idempotency_key"), Msg: "String should have at most 255 characters", Type: "string_too_long"})
		} else {
			u.IdempotencyKey = s
		}
	}
	return u, fes
}

// ValidIdempotencyKey reports whether k is acceptable as an Idempotency-Key.
func ValidIdempotencyKey(k string) bool { return len(k) > 0 && len(k) <= 255 && utf8.ValidString(k) }

func validModule(s string) bool {
	if len(s) == 0 || len(s) > MaxModuleLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// ValidModule reports whether s is an acceptable module name.
func ValidModule(s string) bool { return validModule(s) }

func jsonString(raw json.RawMessage) (string, bool) {
	if firstByte(raw) != '"' {
		return "", false
	}
	return stringValue(raw)
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// CheckJSON is checkJSON at MaxDepth, for the routes that decode other
// bodies than updates (heartbeats): the same refusals, the same 422s.
func CheckJSON(body []byte) *FieldError { return checkJSON(body, MaxDepth) }

// checkJSON rejects a body that is empty, not valid JSON, not UTF-8, or
// nested deeper than maxDepth, before anything else looks at it
// (encoding/json would accept depths up to 10,000).
func checkJSON(body []byte, maxDepth int) *FieldError {
	if len(bytes.TrimSpace(body)) == 0 {
		return &FieldError{Loc: []any{"body"}, Msg: "Field required", Type: "missing"}
	}
	depth, inStr, esc := 0, false, false
	for i, c := range body {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > maxDepth {
				return &FieldError{Loc: []any{"body", i}, Msg: fmt.Sprintf("JSON is nested deeper than %d levels", maxDepth), Type: "json_too_deep"}
			}
		case '}', ']':
			depth--
		}
	}
	if !json.Valid(body) {
		var v any
		off := int64(0)
		var se *json.SyntaxError
		if err := json.Unmarshal(body, &v); errors.As(err, &se) {
			off = se.Offset
		}
		return &FieldError{Loc: []any{"body", off}, Msg: "JSON decode error", Type: "json_invalid"}
	}
	// JSON text is UTF-8 (RFC 8259 §8.1), but encoding/json lets invalid
	// bytes through inside strings; stored as-is they would reach the Bucket
	// as a batch it cannot decode.
	if !utf8.Valid(body) {
		off := 0
		for off < len(body) {
			r, n := utf8.DecodeRune(body[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return &FieldError{Loc: []any{"body", off}, Msg: "JSON decode error: invalid UTF-8", Type: "json_invalid"}
	}
	return nil
}
