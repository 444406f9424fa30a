package ingest_test

import (
	"encoding/json"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
)

func TestDedupeKey(t *testing.T) {
	base := bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{"a":1}`)}
	key := ingest.DedupeKey(base, "")
	if key == "" {
		t.Fatal("update with a session has no dedupe key")
	}

	t.Run("same content same key", func(t *testing.T) {
		same := bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{"a":1}`)}
		if ingest.DedupeKey(same, "") != key {
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
		if ingest.DedupeKey(a, "") != ingest.DedupeKey(b, "") || ingest.DedupeKey(a, "") != key {
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
			if k := ingest.DedupeKey(tc.u, ""); k == key || k == "" {
				t.Errorf("key %q, want a different non-empty key than %q", k, key)
			}
		})
	}
	t.Run("idempotency key overrides content", func(t *testing.T) {
		a := bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{"a":1}`), IdempotencyKey: "k"}
		b := bridge.Update{Module: "m", Data: json.RawMessage(`{"b":2}`), IdempotencyKey: "k"}
		if ingest.DedupeKey(a, "") != ingest.DedupeKey(b, "") {
			t.Error("same idempotency key and module, different content: keys differ")
		}
		c := bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{"a":1}`), IdempotencyKey: "k2"}
		if ingest.DedupeKey(a, "") == ingest.DedupeKey(c, "") {
			t.Error("different idempotency keys, same content: keys equal")
		}
	})
	t.Run("idempotency key is scoped to module and principal", func(t *testing.T) {
		edu := bridge.Update{Module: "education", Data: json.RawMessage(`{}`), IdempotencyKey: "42"}
		fin := bridge.Update{Module: "finance", Data: json.RawMessage(`{}`), IdempotencyKey: "42"}
		if ingest.DedupeKey(edu, "") == ingest.DedupeKey(fin, "") {
			t.Error("key 42 of education and of finance are one key")
		}
		if ingest.DedupeKey(edu, "lab-1") == ingest.DedupeKey(edu, "lab-2") {
			t.Error("key 42 of two principals is one key")
		}
		other := bridge.Update{Module: "education", Data: json.RawMessage(`{"x":1}`), IdempotencyKey: "42"}
		if ingest.DedupeKey(edu, "lab-1") != ingest.DedupeKey(other, "lab-1") {
			t.Error("the same key of the same principal and module differs with the data")
		}
	})
	t.Run("idempotency key is not confused with a session", func(t *testing.T) {
		a := bridge.Update{Module: "m", IdempotencyKey: "x"}
		b := bridge.Update{Module: "", SessionID: "x"}
		if ingest.DedupeKey(a, "") == ingest.DedupeKey(b, "") {
			t.Error("idempotency key and content key collide")
		}
	})
	t.Run("no session no key is empty", func(t *testing.T) {
		u := bridge.Update{Module: "m", Data: base.Data}
		if k := ingest.DedupeKey(u, ""); k != "" {
			t.Errorf("key = %q, want empty", k)
		}
	})
}

func TestIdentifyWindows(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	d := ingest.Dedupe{KeyWindow: 24 * time.Hour, ContentWindow: 5 * time.Minute}
	data := json.RawMessage(`{"a":1}`)

	keyed := d.Identify(bridge.Update{Module: "m", Data: data, IdempotencyKey: "k"}, "p", now)
	if keyed.DedupeKey != ingest.DedupeKey(bridge.Update{Module: "m", IdempotencyKey: "k"}, "p") || !keyed.DedupeSince.Equal(now.Add(-24*time.Hour)) {
		t.Errorf("keyed: key %q since %v, want the principal's key and now-24h", keyed.DedupeKey, keyed.DedupeSince)
	}
	again := d.Identify(bridge.Update{Module: "m", Data: data, IdempotencyKey: "k"}, "p", now.Add(time.Second))
	if keyed.SessionID == "" || again.SessionID != keyed.SessionID {
		t.Errorf("keyed without session: session ids %q and %q, want one derived from the key", keyed.SessionID, again.SessionID)
	}
	if other := d.Identify(bridge.Update{Module: "m", Data: data, IdempotencyKey: "k2"}, "p", now); other.SessionID == keyed.SessionID {
		t.Error("two keys derive the same session id")
	}

	content := d.Identify(bridge.Update{Module: "m", SessionID: "s", Data: data}, "p", now)
	if content.DedupeKey == "" || !content.DedupeSince.Equal(now.Add(-5*time.Minute)) || content.SessionID != "s" {
		t.Errorf("content: key %q since %v session %q, want a key, now-5m, s", content.DedupeKey, content.DedupeSince, content.SessionID)
	}

	off := ingest.Dedupe{KeyWindow: time.Hour}
	if r := off.Identify(bridge.Update{Module: "m", SessionID: "s", Data: data}, "", now); r.DedupeKey != "" || r.SessionID != "s" {
		t.Errorf("content window 0: key %q session %q, want no key (always stored)", r.DedupeKey, r.SessionID)
	}
	if r := off.Identify(bridge.Update{Module: "m", SessionID: "s", Data: data, IdempotencyKey: "k"}, "", now); r.DedupeKey == "" {
		t.Error("content window 0 turned off idempotency keys too")
	}
	if r := d.Identify(bridge.Update{Module: "m", Data: data}, "", now); r.DedupeKey != "" || r.SessionID == "" {
		t.Errorf("no key no session: key %q session %q, want no key and a generated session", r.DedupeKey, r.SessionID)
	}
}
