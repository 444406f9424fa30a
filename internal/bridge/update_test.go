package bridge_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"corebridge/internal/bridge"
)

// fe is an expected field error: its loc as JSON (how clients see it) and type.
type fe struct {
	loc string
	typ string
}

// fieldErrors asserts that err is an EINVALID *bridge.Error and returns its
// fields as (loc JSON, type) pairs.
func fieldErrors(t *testing.T, err error) []fe {
	t.Helper()
	var e *bridge.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *bridge.Error", err, err)
	}
	if e.Code != bridge.EINVALID {
		t.Fatalf("code = %q, want %q (%v)", e.Code, bridge.EINVALID, err)
	}
	if len(e.Fields) == 0 {
		t.Fatalf("EINVALID error without fields: %v", err)
	}
	out := make([]fe, len(e.Fields))
	for i, f := range e.Fields {
		if f.Msg == "" {
			t.Errorf("field error %d has no msg: %+v", i, f)
		}
		b, err := json.Marshal(f.Loc)
		if err != nil {
			t.Fatalf("marshal loc %v: %v", f.Loc, err)
		}
		out[i] = fe{loc: string(b), typ: f.Type}
	}
	return out
}

func checkFieldErrors(t *testing.T, err error, want []fe) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	got := fieldErrors(t, err)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("field errors = %v, want %v", got, want)
	}
}

// nest returns n nested JSON objects: nest(2) is {"a":{}}.
func nest(n int) string {
	return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1)
}

// body builds an update body with the given raw data.
func body(module, data string) string {
	return `{"module":"` + module + `","data":` + data + `}`
}

func TestDecodeUpdateValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want bridge.Update
	}{
		{"minimal", `{"module":"finance","data":{}}`,
			bridge.Update{Module: "finance", Data: json.RawMessage(`{}`)}},
		{"with session", `{"module":"finance","data":{"x":1},"session_id":"s-1"}`,
			bridge.Update{Module: "finance", Data: json.RawMessage(`{"x":1}`), SessionID: "s-1"}},
		{"data is compacted", "  {\n \"module\" : \"m\",\n \"data\" : { \"a\" : [ 1 , 2 ],\t\"b\" : \"x y\" } }\n",
			bridge.Update{Module: "m", Data: json.RawMessage(`{"a":[1,2],"b":"x y"}`)}},
		{"unknown extra fields ignored", `{"module":"m","data":{},"extra":1,"more":{"x":[1,{"y":null}]},"status":"no"}`,
			bridge.Update{Module: "m", Data: json.RawMessage(`{}`)}},
		{"session_id null is absent", `{"module":"m","data":{},"session_id":null}`,
			bridge.Update{Module: "m", Data: json.RawMessage(`{}`)}},
		{"session_id empty is absent", `{"module":"m","data":{},"session_id":""}`,
			bridge.Update{Module: "m", Data: json.RawMessage(`{}`)}},
		{"session_id 128 ascii", `{"module":"m","data":{},"session_id":"` + strings.Repeat("s", 128) + `"}`,
			bridge.Update{Module: "m", Data: json.RawMessage(`{}`), SessionID: strings.Repeat("s", 128)}},
		{"session_id 128 two-byte characters", `{"module":"m","data":{},"session_id":"` + strings.Repeat("é", 128) + `"}`,
			bridge.Update{Module: "m", Data: json.RawMessage(`{}`), SessionID: strings.Repeat("é", 128)}},
		{"session_id 128 four-byte characters", `{"module":"m","data":{},"session_id":"` + strings.Repeat("🚀", 128) + `"}`,
			bridge.Update{Module: "m", Data: json.RawMessage(`{}`), SessionID: strings.Repeat("🚀", 128)}},
		{"session_id escapes decoded", `{"module":"m","data":{},"session_id":"a\u00e9\n"}`,
			bridge.Update{Module: "m", Data: json.RawMessage(`{}`), SessionID: "aé\n"}},
		{"idempotency_key in body", `{"module":"m","data":{},"idempotency_key":"k1"}`,
			bridge.Update{Module: "m", Data: json.RawMessage(`{}`), IdempotencyKey: "k1"}},
		{"module 64 chars", body(strings.Repeat("m", 64), `{}`),
			bridge.Update{Module: strings.Repeat("m", 64), Data: json.RawMessage(`{}`)}},
		{"module 1 char", body("7", `{}`),
			bridge.Update{Module: "7", Data: json.RawMessage(`{}`)}},
		{"module dots dashes underscores inside", body("Core.edu-v2_beta.", `{}`),
			bridge.Update{Module: "Core.edu-v2_beta.", Data: json.RawMessage(`{}`)}},
		{"module given with escapes", `{"module":"\u0061bc","data":{}}`,
			bridge.Update{Module: "abc", Data: json.RawMessage(`{}`)}},
		{"nesting 64 deep", body("m", nest(63)),
			bridge.Update{Module: "m", Data: json.RawMessage(nest(63))}},
		{"brackets inside strings do not count", body("m", `{"s":"`+strings.Repeat("[{", 100)+`"}`),
			bridge.Update{Module: "m", Data: json.RawMessage(`{"s":"` + strings.Repeat("[{", 100) + `"}`)}},
		{"escaped quote and backslash in strings", body("m", `{"q":"\"[{","b":"\\","c":[1]}`),
			bridge.Update{Module: "m", Data: json.RawMessage(`{"q":"\"[{","b":"\\","c":[1]}`)}},
		{"huge number kept verbatim", body("m", `{"n":1e999999,"i":123456789012345678901234567890}`),
			bridge.Update{Module: "m", Data: json.RawMessage(`{"n":1e999999,"i":123456789012345678901234567890}`)}},
		{"unicode data", body("m", `{"名前":"café 🚀"}`),
			bridge.Update{Module: "m", Data: json.RawMessage(`{"名前":"café 🚀"}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bridge.DecodeUpdate([]byte(tc.body))
			if err != nil {
				t.Fatalf("DecodeUpdate: %v", err)
			}
			if got.Module != tc.want.Module || string(got.Data) != string(tc.want.Data) ||
				got.SessionID != tc.want.SessionID || got.IdempotencyKey != tc.want.IdempotencyKey {
				t.Errorf("got %+v (data %s), want %+v (data %s)", got, got.Data, tc.want, tc.want.Data)
			}
		})
	}
}

func TestDecodeUpdateInvalid(t *testing.T) {
	pattern := fe{`["body","module"]`, "string_pattern_mismatch"}
	for _, tc := range []struct {
		name string
		body string
		want []fe
	}{
		{"empty body", ``, []fe{{`["body"]`, "missing"}}},
		{"whitespace body", " \n\t ", []fe{{`["body"]`, "missing"}}},
		{"malformed trailing comma", `{"module":"x",}`, []fe{{`["body",15]`, "json_invalid"}}},
		{"malformed truncated", `{"module":`, []fe{{`["body",10]`, "json_invalid"}}},
		{"malformed two values", `{} {}`, []fe{{`["body",4]`, "json_invalid"}}},
		{"malformed single quotes", `{'module':'x'}`, []fe{{`["body",2]`, "json_invalid"}}},
		{"malformed bare word", `hello`, []fe{{`["body",1]`, "json_invalid"}}},
		{"invalid utf-8", "{\"module\":\"m\",\"data\":{\"a\":\"\xff\"}}", []fe{{`["body",27]`, "json_invalid"}}},
		{"body array", `[{"module":"m","data":{}}]`, []fe{{`["body"]`, "model_attributes_type"}}},
		{"body string", `"module"`, []fe{{`["body"]`, "model_attributes_type"}}},
		{"body number", `42`, []fe{{`["body"]`, "model_attributes_type"}}},
		{"body null", `null`, []fe{{`["body"]`, "model_attributes_type"}}},
		{"body bool", `true`, []fe{{`["body"]`, "model_attributes_type"}}},
		{"missing module", `{"data":{}}`, []fe{{`["body","module"]`, "missing"}}},
		{"module number", `{"module":5,"data":{}}`, []fe{{`["body","module"]`, "string_type"}}},
		{"module null", `{"module":null,"data":{}}`, []fe{{`["body","module"]`, "string_type"}}},
		{"module object", `{"module":{"name":"m"},"data":{}}`, []fe{{`["body","module"]`, "string_type"}}},
		{"module array", `{"module":["m"],"data":{}}`, []fe{{`["body","module"]`, "string_type"}}},
		{"module bool", `{"module":true,"data":{}}`, []fe{{`["body","module"]`, "string_type"}}},
		{"module empty", body("", `{}`), []fe{{`["body","module"]`, "string_too_short"}}},
		{"module leading dash", body("-edu", `{}`), []fe{pattern}},
		{"module leading dot", body(".edu", `{}`), []fe{pattern}},
		{"module leading underscore", body("_edu", `{}`), []fe{pattern}},
		{"module with space", body("my module", `{}`), []fe{pattern}},
		{"module with slash", body("a/b", `{}`), []fe{pattern}},
		{"module unicode", body("módulo", `{}`), []fe{pattern}},
		{"module escaped newline", body(`edu\n`, `{}`), []fe{pattern}},
		{"module escaped NUL", body(`edu\u0000`, `{}`), []fe{pattern}},
		{"module 65 chars", body(strings.Repeat("m", 65), `{}`), []fe{pattern}},
		{"data missing", `{"module":"m"}`, []fe{{`["body","data"]`, "missing"}}},
		{"data array", body("m", `[]`), []fe{{`["body","data"]`, "dict_type"}}},
		{"data string", body("m", `"{}"`), []fe{{`["body","data"]`, "dict_type"}}},
		{"data null", body("m", `null`), []fe{{`["body","data"]`, "dict_type"}}},
		{"data number", body("m", `1`), []fe{{`["body","data"]`, "dict_type"}}},
		{"data bool", body("m", `false`), []fe{{`["body","data"]`, "dict_type"}}},
		{"session_id 129 ascii", `{"module":"m","data":{},"session_id":"` + strings.Repeat("s", 129) + `"}`,
			[]fe{{`["body","session_id"]`, "string_too_long"}}},
		{"session_id 129 two-byte characters", `{"module":"m","data":{},"session_id":"` + strings.Repeat("é", 129) + `"}`,
			[]fe{{`["body","session_id"]`, "string_too_long"}}},
		{"session_id number", `{"module":"m","data":{},"session_id":7}`, []fe{{`["body","session_id"]`, "string_type"}}},
		{"session_id object", `{"module":"m","data":{},"session_id":{}}`, []fe{{`["body","session_id"]`, "string_type"}}},
		{"session_id bool", `{"module":"m","data":{},"session_id":false}`, []fe{{`["body","session_id"]`, "string_type"}}},
		{"idempotency_key number", `{"module":"m","data":{},"idempotency_key":1}`, []fe{{`["body","idempotency_key"]`, "string_type"}}},
		{"idempotency_key too long", `{"module":"m","data":{},"idempotency_key":"` + strings.Repeat("k", 256) + `"}`,
			[]fe{{`["body","idempotency_key"]`, "string_too_long"}}},
		// The body is one level, so data nested 64 makes 65.
		{"nesting 65 deep", body("m", nest(64)), []fe{{fmt.Sprintf(`["body",%d]`, len(`{"module":"m","data":`)+5*63), "json_too_deep"}}},
		{"nesting 65 deep in arrays", body("m", `{"a":`+strings.Repeat("[", 63)+strings.Repeat("]", 63)+`}`),
			[]fe{{fmt.Sprintf(`["body",%d]`, len(`{"module":"m","data":{"a":`)+62), "json_too_deep"}}},
		{"nesting far too deep", strings.Repeat("[", 100000), []fe{{`["body",64]`, "json_too_deep"}}},
		{"several problems together", `{"module":5,"session_id":7,"idempotency_key":[]}`, []fe{
			{`["body","module"]`, "string_type"},
			{`["body","data"]`, "missing"},
			{`["body","session_id"]`, "string_type"},
			{`["body","idempotency_key"]`, "string_type"},
		}},
		{"bad module and bad data", body("-x", `[1]`), []fe{pattern, {`["body","data"]`, "dict_type"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bridge.DecodeUpdate([]byte(tc.body))
			checkFieldErrors(t, err, tc.want)
			if got.Module != "" || got.Data != nil || got.SessionID != "" {
				t.Errorf("invalid update returned a value: %+v", got)
			}
		})
	}
}

func TestDecodeUpdateErrorMessage(t *testing.T) {
	_, err := bridge.DecodeUpdate([]byte(body("-x", `{}`)))
	if got := bridge.ErrorMessage(err); !strings.Contains(got, "module") || !strings.Contains(got, bridge.ModulePattern) {
		t.Errorf("message %q does not name the field and the pattern", got)
	}
}

func TestValidModule(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "Z9": true, "0": true, "a.b-c_d": true, "a-": true, strings.Repeat("x", 64): true,
		"": false, "-a": false, ".a": false, "_a": false, "a b": false, "a\x00": false, "é": false,
		strings.Repeat("x", 65): false, "a+b": false, "a:b": false,
	} {
		if got := bridge.ValidModule(s); got != want {
			t.Errorf("ValidModule(%q) = %v, want %v", s, got, want)
		}
	}
}

// items returns n valid update objects joined by commas.
func items(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"module":"m%d","data":{"i":%d}}`, i%7, i)
	}
	return strings.Join(parts, ",")
}

func TestDecodeBatchValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		n    int
	}{
		{"wrapped one", `{"updates":[` + items(1) + `]}`, 1},
		{"wrapped several", `{"updates":[` + items(5) + `]}`, 5},
		{"wrapped with extra fields", `{"source":"x","updates":[` + items(2) + `],"n":2}`, 2},
		{"bare one", `[` + items(1) + `]`, 1},
		{"bare several", " [" + items(3) + "] ", 3},
		{"wrapped 1000", `{"updates":[` + items(1000) + `]}`, 1000},
		{"bare 1000", `[` + items(1000) + `]`, 1000},
		{"wrapped item nested 64 deep", `{"updates":[` + body("m", nest(63)) + `]}`, 1},
		{"bare item nested 64 deep", `[` + body("m", nest(63)) + `]`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ups, err := bridge.DecodeBatch([]byte(tc.body))
			if err != nil {
				t.Fatalf("DecodeBatch: %v", err)
			}
			if len(ups) != tc.n {
				t.Fatalf("got %d updates, want %d", len(ups), tc.n)
			}
			for i, u := range ups {
				if !bridge.ValidModule(u.Module) || !json.Valid(u.Data) || u.Data[0] != '{' {
					t.Errorf("item %d not decoded: %+v", i, u)
				}
			}
		})
	}

	t.Run("items keep order and fields", func(t *testing.T) {
		ups, err := bridge.DecodeBatch([]byte(`[{"module":"a","data":{"x":1},"session_id":"s1","idempotency_key":"k1"},
			{"module":"b","data":{ "y" : 2 }}]`))
		if err != nil {
			t.Fatal(err)
		}
		want := []bridge.Update{
			{Module: "a", Data: json.RawMessage(`{"x":1}`), SessionID: "s1", IdempotencyKey: "k1"},
			{Module: "b", Data: json.RawMessage(`{"y":2}`)},
		}
		for i := range want {
			if fmt.Sprintf("%s %s %s %s", ups[i].Module, ups[i].Data, ups[i].SessionID, ups[i].IdempotencyKey) !=
				fmt.Sprintf("%s %s %s %s", want[i].Module, want[i].Data, want[i].SessionID, want[i].IdempotencyKey) {
				t.Errorf("item %d = %+v, want %+v", i, ups[i], want[i])
			}
		}
	})
}

func TestDecodeBatchInvalid(t *testing.T) {
	bad := `{"module":"-bad","data":{}}`
	for _, tc := range []struct {
		name string
		body string
		want []fe
	}{
		{"empty body", ``, []fe{{`["body"]`, "missing"}}},
		{"malformed", `{"updates":[}`, []fe{{`["body",13]`, "json_invalid"}}},
		{"wrapped zero items", `{"updates":[]}`, []fe{{`["body","updates"]`, "too_short"}}},
		{"bare zero items", `[]`, []fe{{`["body"]`, "too_short"}}},
		{"wrapped 1001 items", `{"updates":[` + items(1001) + `]}`, []fe{{`["body","updates"]`, "too_long"}}},
		{"bare 1001 items", `[` + items(1001) + `]`, []fe{{`["body"]`, "too_long"}}},
		{"updates missing", `{"update":[]}`, []fe{{`["body","updates"]`, "missing"}}},
		{"updates null", `{"updates":null}`, []fe{{`["body","updates"]`, "list_type"}}},
		{"updates object", `{"updates":{"module":"m","data":{}}}`, []fe{{`["body","updates"]`, "list_type"}}},
		{"updates string", `{"updates":"[]"}`, []fe{{`["body","updates"]`, "list_type"}}},
		{"body string", `"x"`, []fe{{`["body"]`, "list_type"}}},
		{"body number", `1`, []fe{{`["body"]`, "list_type"}}},
		{"body null", `null`, []fe{{`["body"]`, "list_type"}}},
		{"wrapped item module names index and field", `{"updates":[` + items(2) + `,` + bad + `]}`,
			[]fe{{`["body","updates",2,"module"]`, "string_pattern_mismatch"}}},
		{"bare item module names index and field", `[` + items(2) + `,` + bad + `]`,
			[]fe{{`["body",2,"module"]`, "string_pattern_mismatch"}}},
		{"item not an object", `{"updates":[` + items(1) + `,7]}`, []fe{{`["body","updates",1]`, "model_attributes_type"}}},
		{"every bad item reported", `{"updates":[{"data":{}},` + items(1) + `,{"module":"m","data":[]},{"module":"m","data":{},"session_id":1}]}`,
			[]fe{
				{`["body","updates",0,"module"]`, "missing"},
				{`["body","updates",2,"data"]`, "dict_type"},
				{`["body","updates",3,"session_id"]`, "string_type"},
			}},
		// An item may nest as deep as a single update, and no deeper, in both forms.
		{"wrapped item nested 65 deep", `{"updates":[` + body("m", nest(64)) + `]}`,
			[]fe{{fmt.Sprintf(`["body",%d]`, len(`{"updates":[{"module":"m","data":`)+5*63), "json_too_deep"}}},
		{"bare item nested 65 deep", `[` + body("m", nest(64)) + `]`,
			[]fe{{fmt.Sprintf(`["body",%d]`, len(`[{"module":"m","data":`)+5*63), "json_too_deep"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ups, err := bridge.DecodeBatch([]byte(tc.body))
			checkFieldErrors(t, err, tc.want)
			if ups != nil {
				t.Errorf("invalid batch returned %d updates", len(ups))
			}
		})
	}
}
