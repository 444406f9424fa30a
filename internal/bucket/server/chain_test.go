package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/buckettest"
	"corebridge/internal/bucket/server"
)

// chained returns n records of module chained as the bridge sends them:
// each prev_hash is the hash of the one before, the first's ZeroHash.
func chained(prefix, module string, n int) []bucket.Record {
	out := make([]bucket.Record, n)
	prev := bucket.ZeroHash
	for i := range out {
		out[i] = hashed(rec(fmt.Sprintf("%s-%03d", prefix, i), module))
		out[i].PrevHash, prev = prev, out[i].Hash
	}
	return out
}

func askChain(t *testing.T, base, module string) bucket.ChainReport {
	t.Helper()
	status, body := get(t, base+"/v1/reconcile/chain?module="+module)
	if status != http.StatusOK {
		t.Fatalf("chain: %d %s", status, body)
	}
	return decode[bucket.ChainReport](t, body)
}

func TestChainReportsGaps(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	in := chained("c", "edu", 10)
	// c-004 was edited after acceptance: it comes with the hash of its new
	// data and first_hash, the hash c-005 names.
	edited := in[4]
	edited.Data = json.RawMessage(`{"edited":true}`)
	edited = hashed(edited)
	edited.FirstHash = in[4].Hash
	in[4] = edited
	// c-009 names c-002, which the Bucket holds (a run the bridge pruned
	// before it was sent): not a gap, though not next door.
	in[9].PrevHash = in[3].PrevHash
	legacy := rec("c-100", "edu") // no prev_hash: not chained, not a gap
	if _, err := run.Store.Put(t.Context(), append(in, legacy)); err != nil {
		t.Fatal(err)
	}
	if rep := askChain(t, run.URL, "edu"); rep.Records != 11 || rep.Chained != 10 || rep.Gaps != 0 || len(rep.First) != 0 {
		t.Fatalf("whole chain: %+v", rep)
	}

	db := sqlOpen(t, run.Store.Path())
	for _, id := range []string{"c-006", "c-002"} {
		if _, err := db.Exec(`DELETE FROM records WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
	}
	rep := askChain(t, run.URL, "edu")
	want := []bucket.ChainGap{{ID: "c-003", PrevHash: in[2].Hash}, {ID: "c-007", PrevHash: in[6].Hash}, {ID: "c-009", PrevHash: in[2].Hash}}
	if rep.Records != 9 || rep.Chained != 8 || rep.Gaps != 3 || !reflect.DeepEqual(rep.First, want) {
		t.Errorf("after deleting c-002 and c-006: %+v, want gaps %+v", rep, want)
	}
	status, body := get(t, run.URL+"/v1/reconcile/chain?module=edu&limit=1")
	if rep := decode[bucket.ChainReport](t, body); status != 200 || rep.Gaps != 3 || !reflect.DeepEqual(rep.First, want[:1]) {
		t.Errorf("limit=1: %d %s", status, body)
	}
	if rep := askChain(t, run.URL, "none"); rep.Records != 0 || rep.First == nil {
		t.Errorf("unknown module: %+v, want none and first: []", rep)
	}
}

// prev_hash and first_hash are kept and shown; one that is not 64 hex
// digits has its record rejected alone, naming the member.
func TestServerChainHashesOnTheWire(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	good := chained("w", "edu", 2)
	good[1].FirstHash = strings.Repeat("AB", 32) // either case is taken
	badPrev, badFirst := hashed(rec("w-bad1", "edu")), hashed(rec("w-bad2", "edu"))
	badPrev.PrevHash = "abc"
	badFirst.FirstHash = strings.Repeat("g", 64)
	body := mustJSON(t, bucket.Request{Records: []bucket.Record{good[0], badPrev, good[1], badFirst}})
	res := postExpecting(t, run.URL, string(body), []string{"w-000", "w-bad1", "w-001", "w-bad2"},
		[]string{"stored", "rejected", "stored", "rejected"})
	if !strings.Contains(res[1].Error, "prev_hash must be 64 hex digits") || !strings.Contains(res[3].Error, "first_hash must be 64 hex digits") {
		t.Errorf("errors %q, %q: want the member named", res[1].Error, res[3].Error)
	}
	status, page := get(t, run.URL+"/v1/records?module=edu")
	held := decode[bucket.Page](t, page).Records
	if status != 200 || len(held) != 2 || held[0].PrevHash != bucket.ZeroHash || held[0].FirstHash != "" ||
		held[1].PrevHash != good[0].Hash || held[1].FirstHash != strings.Repeat("ab", 32) {
		t.Fatalf("held %d %+v", status, held)
	}
	if strings.Contains(string(page), `"first_hash":""`) {
		t.Errorf("an absent first_hash is shown: %s", page)
	}
}

// Ids that SQL's substr would cut otherwise than Go are refused.
func TestStorePutRejectsIDsSQLCutsOtherwise(t *testing.T) {
	s := openStore(t)
	got, err := s.Put(t.Context(), []bucket.Record{rec("a\x00b", "edu"), rec("a\xffb", "edu"), rec("é", "edu")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"rejected", "rejected", "stored"}; !reflect.DeepEqual(buckettest.Statuses(got), want) {
		t.Fatalf("statuses %v, want %v", buckettest.Statuses(got), want)
	}
	if !strings.Contains(got[0].Error, "NUL") || !strings.Contains(got[1].Error, "UTF-8") {
		t.Errorf("errors %q, %q", got[0].Error, got[1].Error)
	}
}
