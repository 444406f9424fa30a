package bucket

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The hand-written encoder must mean exactly what encoding/json means.
func TestAppendRequestMatchesEncodingJSON(t *testing.T) {
	recs := []Record{
		{ID: "01a2-1", Module: "education", SessionID: "plain", Data: json.RawMessage(`{"a":1,"b":[true,null],"c":{"d":"é"}}`), ReceivedAt: "2026-11-29T14:00:00.000001Z",
			Hash: "bf066ca2170be3f6b9a7aff8f260f41431d314fbddfa434da6daa68241bf789f"},
		{ID: "01a2-2", Module: "finance", SessionID: "quote\" back\\slash\ttab\nnl\x01ctl\u2028ls 日本 \xffbad", Data: json.RawMessage(`{}`), ReceivedAt: "2026-11-29T14:00:00.000002Z"},
	}
	got, err := appendRequest(nil, recs)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(Request{Records: recs})
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("differs from encoding/json:\n got %s\nwant %s", got, want)
	}
	// Data that is not an object is left to encoding/json (the Bucket
	// rejects that record).
	odd := []Record{{ID: "x", Data: json.RawMessage(`[1]`)}}
	got, err = appendRequest(nil, odd)
	want, _ = json.Marshal(Request{Records: odd})
	if err != nil || string(got) != string(want) {
		t.Fatalf("fallback: %s, %v; want %s", got, err, want)
	}
}
