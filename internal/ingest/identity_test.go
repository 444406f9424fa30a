package ingest_test

import (
	"encoding/json"
	"testing"

	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
)

func TestDedupeKey(t *testing.T) {
	base := bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{"a":1}`)}
	key := ingest.DedupeKey(base)
	if key == "" {
		t.Fatal("update with a session has no dedupe key")
	}

	t.Run("same content same key", func(t *testing.T) {
		same := bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{"a":1}`)}
		if ingest.DedupeKey(same) != key {
			t.Error("equal updates have different keys")
		}
	})
	t.Run("decoded equal content same key", func(t *testing.T) {
		// Compacting makes formatting differences irrelevant.
		a, err1 := bridge.DecodeUpdate([]byte(`{"module":"m","session_id":"s","data":{"a":1}}`))
		b, err2 := bridge.DecodeUpdate([]byte(`{ "data" : { "a" : 1 } , "module":"m", "session_id":"s" }`))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if ingest.DedupeKey(a) != ingest.DedupeKey(b) || ingest.DedupeKey(a) != key {
			t.Error("the same update formatted differently has a different key")
		}
	})
	for _, tc := range []struct {
		name string
		u    bridge.Update
	}{
		{"other module", bridge.Update{Module: "n", SessionID: "s", Data: base.Data}},
		{"other session", bridge.Update{Module: "m", SessionID: "t", Data: base.Data}},
		{"other data", bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{"a":2}`)}},
		{"idempotency key instead of content", bridge.Update{Module: "m", SessionID: "s", Data: base.Data, IdempotencyKey: "k"}},
	} {
		t.Run(tc.name+" differs", func(t *testing.T) {
			if k := ingest.DedupeKey(tc.u); k == key || k == "" {
				t.Errorf("key %q, want a different non-empty key than %q", k, key)
			}
		})
	}
	t.Run("idempotency key overrides content", func(t *testing.T) {
		a := bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{"a":1}`), IdempotencyKey: "k"}
		b := bridge.Update{Module: "other", Data: json.RawMessage(`{"b":2}`), IdempotencyKey: "k"}
		if ingest.DedupeKey(a) != ingest.DedupeKey(b) {
			t.Error("same idempotency key, different content: keys differ")
		}
		c := bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{"a":1}`), IdempotencyKey: "k2"}
		if ingest.DedupeKey(a) == ingest.DedupeKey(c) {
			t.Error("different idempotency keys, same content: keys equal")
		}
	})
	t.Run("idempotency key is not confused with a session", func(t *testing.T) {
		a := bridge.Update{Module: "m", IdempotencyKey: "x"}
		b := bridge.Update{Module: "", SessionID: "x"}
		if ingest.DedupeKey(a) == ingest.DedupeKey(b) {
			t.Error("idempotency key and content key collide")
		}
	})
	t.Run("no session no key is empty", func(t *testing.T) {
		u := bridge.Update{Module: "m", Data: base.Data}
		if k := ingest.DedupeKey(u); k != "" {
			t.Errorf("key = %q, want empty", k)
		}
	})
}
