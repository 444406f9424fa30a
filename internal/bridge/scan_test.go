package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"unicode/utf8"
)

// The decoders as they were before the one-pass split (scan.go), kept as
// the reference: FuzzDecodeSameAsEncodingJSON checks that both accept and
// reject the same bodies, with the same updates and field errors.

func stdDecodeItem(raw []byte, loc []any) (Update, []FieldError) {
	at := func(field string) []any { return append(append([]any{}, loc...), field) }
	if firstByte(raw) != '{' {
		return Update{}, []FieldError{{Loc: loc, Msg: "Input should be a valid dictionary or object to extract fields from", Type: "model_attributes_type"}}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Update{}, []FieldError{{Loc: loc, Msg: "Input should be a valid dictionary or object to extract fields from", Type: "model_attributes_type"}}
	}
	var u Update
	var fes []FieldError

	// module: required, non-empty, matching ModulePattern.
	if m, ok := obj["module"]; !ok {
		fes = append(fes, FieldError{Loc: at("module"), Msg: "Field required", Type: "missing"})
	} else if s, ok := stdJSONString(m); !ok {
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
		if s, ok := stdJSONString(sid); !ok {
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
		if s, ok := stdJSONString(k); !ok {
			fes = append(fes, FieldError{Loc: at("idempotency_key"), Msg: "Input should be a valid string", Type: "string_type"})
		} else if len(s) > 255 {
			fes = append(fes, FieldError{Loc: at("idempotency_key"), Msg: "String should have at most 255 characters", Type: "string_too_long"})
		} else {
			u.IdempotencyKey = s
		}
	}
	return u, fes
}

func stdDecodeBatch(body []byte) ([]Update, error) {
	// An item may nest as deep as a single update: the wrapper object and
	// its list add two levels, a bare list one.
	maxDepth := MaxDepth + 2
	if firstByte(body) == '[' {
		maxDepth = MaxDepth + 1
	}
	if err := checkJSON(body, maxDepth); err != nil {
		return nil, invalid(*err)
	}
	var items []json.RawMessage
	loc := []any{"body"}
	switch firstByte(body) {
	case '[':
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, invalid(FieldError{Loc: loc, Msg: "Input should be a valid list", Type: "list_type"})
		}
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, invalid(FieldError{Loc: loc, Msg: "Input should be a valid dictionary or object to extract fields from", Type: "model_attributes_type"})
		}
		loc = []any{"body", "updates"}
		raw, ok := obj["updates"]
		if !ok {
			return nil, invalid(FieldError{Loc: loc, Msg: "Field required", Type: "missing"})
		}
		if firstByte(raw) != '[' || json.Unmarshal(raw, &items) != nil {
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
		u, fes := stdDecodeItem(raw, itemLoc)
		all = append(all, fes...)
		ups[i] = u
	}
	if len(all) > 0 {
		return nil, invalid(all...)
	}
	return ups, nil
}

func stdJSONString(raw json.RawMessage) (string, bool) {
	if firstByte(raw) != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func FuzzDecodeSameAsEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"module":"m","data":{}}`,
		` {"module" : "m" , "data" : {"a":[1,2,{"b":"}"}]} , "session_id":"s\"1"} `,
		`{"module":"m","module":"n","data":{"x":"\u00e9"},"idempotency_key":null}`,
		`{"mod\u0075le":"m","data":{}}`,
		`[{"module":"m","data":{}},{"module":1,"data":[]}]`,
		`{"updates":[{"module":"m","data":{}}],"updates":[{"module":"x","data":{"k":true}}]}`,
		`{"updates":{}}`, `{"updates":[]}`, `[]`, `{}`, `[1, "a", null]`,
		`{"module":"m","data":{},"session_id":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if checkJSON(body, MaxDepth+2) != nil {
			return
		}
		gotU, gotErr := DecodeUpdate(body)
		var wantU Update
		var wantErr error
		if fe := checkJSON(body, MaxDepth); fe != nil {
			wantErr = invalid(*fe)
		} else if u, fes := stdDecodeItem(body, []any{"body"}); len(fes) > 0 {
			wantErr = invalid(fes...)
		} else {
			wantU = u
		}
		if !reflect.DeepEqual(gotU, wantU) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !sameFields(gotErr, wantErr) {
			t.Fatalf("DecodeUpdate(%q) = %+v, %v; encoding/json gives %+v, %v", body, gotU, gotErr, wantU, wantErr)
		}
		gotB, gotErr := DecodeBatch(body)
		wantB, wantErr := stdDecodeBatch(body)
		if !reflect.DeepEqual(gotB, wantB) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !sameFields(gotErr, wantErr) {
			t.Fatalf("DecodeBatch(%q) = %+v, %v; encoding/json gives %+v, %v", body, gotB, gotErr, wantB, wantErr)
		}
	})
}

func sameFields(a, b error) bool {
	ea, _ := a.(*Error)
	eb, _ := b.(*Error)
	if ea == nil || eb == nil {
		return (ea == nil) == (eb == nil)
	}
	return reflect.DeepEqual(ea.Fields, eb.Fields)
}
