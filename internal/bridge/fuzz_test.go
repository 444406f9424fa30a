package bridge_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ and run as ordinary
// tests; `go test -fuzz` explores from them.

func FuzzDecodeUpdate(f *testing.F) {
	f.Add([]byte(`{"module":"m","data":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := bridge.DecodeUpdate(body)
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		checkFuzzUpdate(t, u)

		// What was accepted, sent again, is accepted as the same update.
		again, err := bridge.DecodeUpdate(reencode(t, u))
		if err != nil {
			t.Fatalf("re-encoded update rejected: %v", err)
		}
		if again.Module != u.Module || string(again.Data) != string(u.Data) ||
			again.SessionID != u.SessionID || again.IdempotencyKey != u.IdempotencyKey {
			t.Fatalf("re-encoded update differs: %+v, was %+v", again, u)
		}
		if ingest.DedupeKey(again, "") != ingest.DedupeKey(u, "") {
			t.Fatal("re-encoded update has another dedupe key")
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`[{"module":"m","data":{}}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ups, err := bridge.DecodeBatch(body)
		if err != nil {
			checkFuzzError(t, err)
			if ups != nil {
				t.Fatalf("rejected batch returned %d updates", len(ups))
			}
			return
		}
		if len(ups) < 1 || len(ups) > bridge.MaxBatchItems {
			t.Fatalf("accepted batch of %d items", len(ups))
		}
		for _, u := range ups {
			checkFuzzUpdate(t, u)
		}
	})
}

// checkFuzzUpdate checks what every accepted update must satisfy.
func checkFuzzUpdate(t *testing.T, u bridge.Update) {
	t.Helper()
	if !bridge.ValidModule(u.Module) {
		t.Fatalf("accepted invalid module %q", u.Module)
	}
	if len(u.Data) == 0 || u.Data[0] != '{' || !json.Valid(u.Data) {
		t.Fatalf("accepted data that is not a JSON object: %q", u.Data)
	}
	if !utf8.Valid(u.Data) {
		t.Fatalf("accepted data that is not UTF-8: %q", u.Data)
	}
	if n := utf8.RuneCountInString(u.SessionID); n > bridge.MaxSessionIDLen {
		t.Fatalf("accepted session_id of %d characters", n)
	}
	if len(u.IdempotencyKey) > 255 {
		t.Fatalf("accepted idempotency_key of %d bytes", len(u.IdempotencyKey))
	}
}

// checkFuzzError checks what every rejection must satisfy: an EINVALID
// *bridge.Error whose every field error points into the body.
func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	e, ok := err.(*bridge.Error)
	if !ok {
		t.Fatalf("error %v is %T, not *bridge.Error", err, err)
	}
	if e.Code != bridge.EINVALID {
		t.Fatalf("code %q, want %q: %v", e.Code, bridge.EINVALID, err)
	}
	if len(e.Fields) == 0 {
		t.Fatalf("EINVALID without field errors: %v", err)
	}
	for _, fe := range e.Fields {
		if len(fe.Loc) == 0 || fe.Loc[0] != "body" {
			t.Fatalf("field error loc %v does not start with \"body\"", fe.Loc)
		}
		if fe.Msg == "" || fe.Type == "" {
			t.Fatalf("field error without msg or type: %+v", fe)
		}
	}
	if _, err := json.Marshal(e.Fields); err != nil {
		t.Fatalf("field errors cannot be answered as JSON: %v", err)
	}
}

func reencode(t *testing.T, u bridge.Update) []byte {
	t.Helper()
	v := map[string]any{"module": u.Module, "data": u.Data}
	if u.SessionID != "" {
		v["session_id"] = u.SessionID
	}
	if u.IdempotencyKey != "" {
		v["idempotency_key"] = u.IdempotencyKey
	}
	// Without HTML escaping, data passes through byte for byte.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("re-encode %+v: %v", u, err)
	}
	return buf.Bytes()
}
