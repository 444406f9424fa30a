package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// tricky is data that a store which re-encodes JSON (jsonb, a map round
// trip) would change: key order, escapes, a number beyond float64.
const tricky = `{"z":1,"a":{"y":[1,2.50,{"é":null}],"x":"\u00e9\"\n"},"big":12345678901234567890}`

func testAppendReturns(t *testing.T, e *env) {
	in := []bridge.NewRecord{rec("r1", "a", 0), rec("r2", "b", 1), rec("r3", "a", 2)}
	for i, a := range e.append(in...) {
		checkAppended(t, i, a, bridge.Appended{ID: in[i].ID, SessionID: in[i].SessionID, ReceivedAt: in[i].ReceivedAt})
	}
	r4 := rec("r4", "b", 3)
	checkAppended(t, 0, e.append(r4)[0], bridge.Appended{ID: "r4", SessionID: r4.SessionID, ReceivedAt: r4.ReceivedAt})
}

func testAppendGet(t *testing.T, e *env) {
	a := rec("r1", "a", 0)
	a.Data = json.RawMessage(tricky)
	b := rec("r2", "b", 1)
	b.SessionID = "" // a record may have no session
	e.append(a, b)
	for _, n := range []bridge.NewRecord{a, b} {
		got := e.get(n.ID)
		if got.Seq <= 0 {
			t.Errorf("Get(%q).Seq = %d, want > 0", n.ID, got.Seq)
		}
		checkRecord(t, "Get", got, fresh(n, got.Seq))
	}
}

func testAppendSeq(t *testing.T, e *env) {
	batches := [][]bridge.NewRecord{
		{rec("a1", "a", 0), rec("b1", "b", 0), rec("a2", "a", 0)},
		{rec("b2", "b", 1)},
		{rec("a3", "a", 2), rec("b3", "b", 2)},
	}
	var last int64
	var order []string
	for _, batch := range batches {
		e.append(batch...)
		for _, n := range batch {
			order = append(order, n.ID)
		}
	}
	for _, id := range order {
		seq := e.get(id).Seq
		if seq <= last {
			t.Errorf("Seq of %s = %d, want > %d: Seq must increase in append order %v", id, seq, last, order)
		}
		last = seq
	}
}

// testAppendDue checks that a new record is due at its ReceivedAt and no
// sooner, and that Lease hands out the record as stored.
func testAppendDue(t *testing.T, e *env) {
	n := rec("r1", "a", 5)
	e.append(n)
	e.noLease(lp(ts(5).Add(-time.Microsecond), 10))
	l := e.mustLease(lp(ts(5), 10), "a", "r1")
	checkRecord(t, "Lease", l.Records[0], e.get("r1"))
	checkRecord(t, "leased record", e.get("r1"), fresh(n, l.Records[0].Seq))
}

// testAppendAtomic checks that a batch that cannot be stored as a whole
// leaves nothing behind: reusing a stored ID (without a dedupe key) is an
// error, and the valid record before it in the batch is not stored.
func testAppendAtomic(t *testing.T, e *env) {
	e.append(rec("r1", "a", 0))
	again := rec("r1", "a", 1)
	again.Data = json.RawMessage(`{"other":true}`)
	got, err := e.s.Append(t.Context(), []bridge.NewRecord{rec("r2", "a", 1), again})
	if err == nil {
		t.Errorf("Append of a batch reusing stored id r1 = %+v, nil; want an error", got)
	}
	e.notFound("r2")
	checkRecord(t, "Get", e.get("r1"), fresh(rec("r1", "a", 0), e.get("r1").Seq))
	checkCounts(t, e, counts("a", 1, 1, 0, 0))
}

func testGetUnknown(t *testing.T, e *env) {
	e.notFound("no-such-id")
	e.append(rec("r1", "a", 0))
	e.notFound("no-such-id")
}

func testDedupeLaterCall(t *testing.T, e *env) {
	orig := keyed(rec("o1", "a", 0), "k1")
	e.append(orig)
	got := e.append(rec("n1", "a", 5), resend(orig, "d1", 5))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "n1", SessionID: "sess-n1", ReceivedAt: ts(5)})
	checkAppended(t, 1, got[1], bridge.Appended{ID: "o1", SessionID: orig.SessionID, ReceivedAt: orig.ReceivedAt, Duplicate: true})
	e.notFound("d1")
	checkRecord(t, "original", e.get("o1"), fresh(orig, e.get("o1").Seq))
	checkCounts(t, e, counts("a", 2, 2, 0, 0))
}

func testDedupeSameCall(t *testing.T, e *env) {
	x1 := keyed(rec("x1", "a", 0), "k")
	got := e.append(x1, rec("y1", "a", 0), resend(x1, "x2", 0))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "x1", SessionID: x1.SessionID, ReceivedAt: x1.ReceivedAt})
	checkAppended(t, 1, got[1], bridge.Appended{ID: "y1", SessionID: "sess-y1", ReceivedAt: ts(0)})
	checkAppended(t, 2, got[2], bridge.Appended{ID: "x1", SessionID: x1.SessionID, ReceivedAt: x1.ReceivedAt, Duplicate: true})
	e.notFound("x2")
	checkCounts(t, e, counts("a", 2, 2, 0, 0))
}

// since returns r looking back to ts(sec) for its key's original.
func since(r bridge.NewRecord, sec int) bridge.NewRecord {
	r.DedupeSince = ts(sec)
	return r
}

// testDedupeSinceBounds: an original received before DedupeSince is not
// one: the resend is stored, and the key then stands for the new record.
// An original at DedupeSince exactly still counts.
func testDedupeSinceBounds(t *testing.T, e *env) {
	orig := keyed(rec("o1", "a", 10), "k")
	e.append(orig)
	got := e.append(since(resend(orig, "d1", 20), 10))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "o1", SessionID: orig.SessionID, ReceivedAt: ts(10), Duplicate: true})
	e.notFound("d1")

	got = e.append(since(resend(orig, "n1", 30), 11))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "n1", SessionID: orig.SessionID, ReceivedAt: ts(30)})
	e.get("n1")
	// The key now finds n1, within its window, and o1 no longer.
	got = e.append(since(resend(orig, "d2", 35), 25))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "n1", SessionID: orig.SessionID, ReceivedAt: ts(30), Duplicate: true})
	e.notFound("d2")
	// A zero DedupeSince has no bound: the latest original answers.
	got = e.append(resend(orig, "d3", 1000))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "n1", SessionID: orig.SessionID, ReceivedAt: ts(30), Duplicate: true})
	checkCounts(t, e, counts("a", 2, 2, 0, 0))

	// Within one call: a record whose own window excludes an earlier one
	// of the call is stored too.
	x := keyed(rec("x1", "b", 40), "kx")
	got = e.append(x, since(resend(x, "x2", 50), 41))
	if got[1].Duplicate || got[1].ID != "x2" {
		t.Errorf("second of a call past its window = %+v, want x2 stored", got[1])
	}
}

// testDedupeSinceAcrossReopen: the window is kept by the store (the
// originals' ReceivedAt), not by memory: after a reopen an original within
// the window still dedupes and one past it does not.
func testDedupeSinceAcrossReopen(t *testing.T, e *env) {
	old, recent := keyed(rec("o1", "a", 0), "k-old"), keyed(rec("o2", "a", 100), "k-new")
	e.append(old, recent)
	e.reopen()
	got := e.append(since(resend(old, "n1", 200), 50), since(resend(recent, "d2", 200), 50))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "n1", SessionID: old.SessionID, ReceivedAt: ts(200)})
	checkAppended(t, 1, got[1], bridge.Appended{ID: "o2", SessionID: recent.SessionID, ReceivedAt: ts(100), Duplicate: true})
	e.reopen()
	got = e.append(since(resend(old, "d3", 210), 150))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "n1", SessionID: old.SessionID, ReceivedAt: ts(200), Duplicate: true})
	checkCounts(t, e, counts("a", 3, 3, 0, 0))
}

// testDedupeConflict: a key held within the window by another update
// (another module, session or data) refuses the whole call, names the
// record and the index, and stores nothing; the same content is a
// duplicate as before.
func testDedupeConflict(t *testing.T, e *env) {
	orig := keyed(rec("o1", "a", 0), "k")
	e.append(orig)
	other := func(id string, change func(*bridge.NewRecord)) bridge.NewRecord {
		r := since(resend(orig, id, 5), 0)
		change(&r)
		return r
	}
	for _, tc := range []struct {
		field string
		r     bridge.NewRecord
	}{
		{"module", other("c1", func(r *bridge.NewRecord) { r.Module = "b" })},
		{"session_id", other("c2", func(r *bridge.NewRecord) { r.SessionID = "another" })},
		{"data", other("c3", func(r *bridge.NewRecord) { r.Data = json.RawMessage(`{"id":"o1","n":2}`) })},
	} {
		got, err := e.s.Append(t.Context(), []bridge.NewRecord{rec("ok1", "a", 5), tc.r})
		var kc *bridge.KeyConflict
		if bridge.ErrorCode(err) != bridge.ECONFLICT || !errors.As(err, &kc) {
			t.Fatalf("other %s under a held key: %+v, %v; want an ECONFLICT with a KeyConflict", tc.field, got, err)
		}
		if kc.Index != 1 || kc.OriginalID != "o1" || kc.Field != tc.field {
			t.Errorf("KeyConflict = %+v, want index 1, original o1, field %s", kc, tc.field)
		}
		e.notFound(tc.r.ID)
		e.notFound("ok1")
	}
	// Two records of one call with one key and other data: the second conflicts with the first.
	x := keyed(rec("x1", "a", 6), "kx")
	y := resend(x, "x2", 6)
	y.Data = json.RawMessage(`{"other":1}`)
	_, err := e.s.Append(t.Context(), []bridge.NewRecord{x, y})
	var kc *bridge.KeyConflict
	if !errors.As(err, &kc) || kc.Index != 1 || kc.OriginalID != "x1" || kc.Field != "data" {
		t.Errorf("same call, one key, other data: %v; want a KeyConflict naming x1 at index 1", err)
	}
	e.notFound("x1")
	// Past the window another update under the key is simply new.
	late := since(resend(orig, "n1", 100), 50)
	late.Data = json.RawMessage(`{"other":1}`)
	if got := e.append(late); got[0].Duplicate || got[0].ID != "n1" {
		t.Errorf("other data past the window = %+v, want n1 stored", got[0])
	}
	checkCounts(t, e, counts("a", 2, 2, 0, 0))
}

func testDedupeEmptyKey(t *testing.T, e *env) {
	same := func(id string) bridge.NewRecord {
		r := rec(id, "a", 0)
		r.SessionID, r.Data = "s", json.RawMessage(`{"same":1}`)
		return r
	}
	got := append(e.append(same("e1"), same("e2")), e.append(same("e3"))...)
	for i, a := range got {
		if a.Duplicate || a.ID != []string{"e1", "e2", "e3"}[i] {
			t.Errorf("Appended[%d] = %+v, want new record e%d", i, a, i+1)
		}
	}
	checkCounts(t, e, counts("a", 3, 3, 0, 0))
}

// testDedupeAfterSync checks that a producer retrying after its record went
// out is still acknowledged with the original id, not sent again.
func testDedupeAfterSync(t *testing.T, e *env) {
	orig := keyed(rec("o1", "a", 0), "k")
	e.append(orig)
	e.synced(e.mustLease(lp(ts(0), 10), "a", "o1"), ts(1), "o1")
	got := e.append(resend(orig, "d1", 2))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "o1", SessionID: orig.SessionID, ReceivedAt: orig.ReceivedAt, Duplicate: true})
	e.notFound("d1")
	e.noLease(lp(ts(2), 10))
	checkCounts(t, e, counts("a", 1, 0, 1, 0))
}

// testDedupeAcrossReopen: a key stored just before Close still dedupes
// after the store is opened again.
func testDedupeAcrossReopen(t *testing.T, e *env) {
	orig := keyed(rec("o1", "a", 0), "k")
	e.append(orig)
	e.reopen()
	got := e.append(resend(orig, "d1", 2))
	checkAppended(t, 0, got[0], bridge.Appended{ID: "o1", SessionID: orig.SessionID, ReceivedAt: orig.ReceivedAt, Duplicate: true})
	e.notFound("d1")
}

// testDedupeAfterPurge: once its original is purged, an update is stored
// anew: it must not be acknowledged as a record that no longer exists.
func testDedupeAfterPurge(t *testing.T, e *env) {
	e.append(keyed(rec("o1", "a", 0), "k"))
	e.dead(e.mustLease(lp(ts(0), 10), "a", "o1"), ts(1), "o1")
	if n, err := e.s.PurgeDead(t.Context(), bridge.ReplayParams{IDs: []string{"o1"}}); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	n1 := keyed(rec("n1", "a", 2), "k")
	got := e.append(n1)
	if got[0].Duplicate || got[0].ID != "n1" {
		t.Fatalf("after purging the original: %+v, want n1 stored anew", got[0])
	}
	e.get("n1")
	if got := e.append(resend(n1, "n2", 3)); !got[0].Duplicate || got[0].ID != "n1" {
		t.Fatalf("the new record dedupes in turn: %+v", got[0])
	}
}

// testDedupeAfterPrune: the retention window is the record's life. Once
// the original is pruned, the same update is stored anew, and that holds
// after a reopen too.
func testDedupeAfterPrune(t *testing.T, e *env) {
	e.append(keyed(rec("o1", "a", 0), "k"), keyed(rec("o2", "a", 0), "k2"))
	e.synced(e.mustLease(lp(ts(0), 10), "a", "o1", "o2"), ts(1), "o1", "o2")
	if n, err := e.s.Prune(t.Context(), bridge.PruneParams{SyncedBefore: ts(5), Limit: 10}); err != nil || n != 2 {
		t.Fatalf("prune: %d, %v; want 2 records pruned", n, err)
	}
	n1 := keyed(rec("n1", "a", 6), "k")
	got := e.append(n1)
	if got[0].Duplicate || got[0].ID != "n1" {
		t.Fatalf("after pruning the original: %+v, want n1 stored anew", got[0])
	}
	e.reopen()
	if got := e.append(resend(n1, "n2", 7)); !got[0].Duplicate || got[0].ID != "n1" {
		t.Fatalf("the new record dedupes in turn: %+v", got[0])
	}
	if got := e.append(keyed(rec("n3", "a", 8), "k2")); got[0].Duplicate || got[0].ID != "n3" {
		t.Fatalf("after pruning and a reopen: %+v, want n3 stored anew", got[0])
	}
}
