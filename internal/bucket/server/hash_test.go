package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/buckettest"
	"corebridge/internal/bucket/server"
)

// hashed returns r with its content hash set, as the bridge sends it.
func hashed(r bucket.Record) bucket.Record {
	r.Hash = bridge.ContentHash(r.Module, r.SessionID, r.Data, r.ReceivedAt, r.ID)
	return r
}

// A known id is a redelivery only if its content is the same: another
// content hash is a conflict, and the Bucket keeps what it stored first.
func TestStorePutAnswersConflictForOtherContent(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := hashed(rec("a", "edu"))
	edited := a
	edited.Data = json.RawMessage(`{"edited":true}`)
	edited = hashed(edited)
	legacy := rec("old", "edu") // sent by an older bridge: no hash
	if _, err := s.Put(ctx, []bucket.Record{a, legacy}); err != nil {
		t.Fatal(err)
	}

	legacyEdited := hashed(legacy)
	legacyEdited.Data = json.RawMessage(`{"other":1}`)
	legacyEdited = hashed(legacyEdited)
	unhashedEdit := edited
	unhashedEdit.Hash = ""
	got, err := s.Put(ctx, []bucket.Record{a, edited, legacyEdited, unhashedEdit, hashed(rec("b", "edu")), hashed(rec("b", "edu"))})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"duplicate", // same content again: a redelivery
		"conflict",  // the id with other content
		"duplicate", // the held record has no hash: nothing to compare
		"duplicate", // no hash sent: an older bridge, as before
		"stored",
		"duplicate", // repeated within one batch, same content
	}
	if !reflect.DeepEqual(buckettest.Statuses(got), want) {
		t.Fatalf("statuses = %v, want %v", buckettest.Statuses(got), want)
	}
	if e := got[1].Error; !strings.Contains(e, a.Hash) || !strings.Contains(e, edited.Hash) {
		t.Errorf("conflict error %q, want both hashes named", e)
	}

	all := allRecords(t, s, "", 0)
	if len(all) != 3 || string(all[0].Data) != string(a.Data) || all[0].Hash != a.Hash {
		t.Fatalf("held: %+v, want a with its first data and hash", all)
	}
	if all[1].ID != "old" || all[1].Hash != "" {
		t.Errorf("a record stored without a hash reads back with hash %q", all[1].Hash)
	}
	if st, _ := s.Stats(ctx); st.Total != 3 {
		t.Errorf("stats total %d, want 3: a conflict stores nothing", st.Total)
	}
}

func TestStorePutVerifiesTheHash(t *testing.T) {
	s := openStore(t)
	changed := hashed(rec("x1", "edu"))
	changed.Data = json.RawMessage(`{"changed":"on the way"}`)
	otherReceived := hashed(rec("x2", "edu"))
	otherReceived.ReceivedAt = "2026-11-29T14:00:00.000001Z"
	notHex := rec("x3", "edu")
	notHex.Hash = strings.Repeat("z", 64)
	short := rec("x4", "edu")
	short.Hash = "abc"
	upper := hashed(rec("x5", "edu"))
	upper.Hash = strings.ToUpper(upper.Hash)
	got, err := s.Put(context.Background(), []bucket.Record{changed, otherReceived, notHex, short, upper, hashed(rec("ok", "edu"))})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"rejected", "rejected", "rejected", "rejected", "stored", "stored"}
	if !reflect.DeepEqual(buckettest.Statuses(got), want) {
		t.Fatalf("statuses = %v, want %v", buckettest.Statuses(got), want)
	}
	for i, msg := range []string{"does not match", "does not match", "64 hex digits", "64 hex digits"} {
		if !strings.Contains(got[i].Error, msg) || !strings.Contains(got[i].Error, "hash") {
			t.Errorf("result %d error %q, want it to say %q", i, got[i].Error, msg)
		}
	}
}

// Over HTTP, as the bridge's client sends it: the client computes the hash,
// and a record whose data changed under an id the Bucket holds comes back
// as conflict.
func TestClientGetsConflictOverHTTP(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	c := bucket.NewClient(run.URL)
	ctx := t.Context()
	in := buckettest.Records("r", "edu", 2)
	if _, err := c.Send(ctx, in); err != nil {
		t.Fatal(err)
	}
	in[1].Data = json.RawMessage(`{"i":1,"edited":true}`)
	got, err := c.Send(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"duplicate", "conflict"}; !reflect.DeepEqual(buckettest.Statuses(got), want) {
		t.Fatalf("statuses %v, want %v", buckettest.Statuses(got), want)
	}
	held, err := c.Records(ctx, "edu", "", 0)
	if err != nil || len(held) != 2 || held[0].Hash != in[0].ContentHash() || string(held[1].Data) != `{"i":1}` {
		t.Errorf("held %+v (%v), want the first content with its hash", held, err)
	}

	// A hand-written body whose hash does not match: that record is
	// rejected, the others of the batch are not.
	body := `{"records":[{"id":"h-1","module":"edu","session_id":"s","data":{"a":1},"received_at":"t","hash":"` +
		strings.Repeat("0", 64) + `"},{"id":"h-2","module":"edu","data":{"a":2}}]}`
	code, _, resp := post(t, run.URL+"/v1/records", []byte(body))
	var r bucket.Response
	if code != http.StatusOK || json.Unmarshal(resp, &r) != nil || !reflect.DeepEqual(buckettest.Statuses(r.Results), []string{"rejected", "stored"}) {
		t.Errorf("POST with a wrong hash: %d %s", code, resp)
	}
}
