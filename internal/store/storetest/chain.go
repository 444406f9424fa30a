package storetest

import (
	"encoding/json"
	"testing"

	"corebridge/internal/bridge"
)

// The Chain group: the tamper-evident log and what reconciliation needs
// (bridge.Verifier, bridge.Reconcilable). It runs for stores that keep a
// chain; tampering behind a store's back is tested by each store, with
// its own tools (the sqlite3 CLI, psql).
var chain = []test{
	{"HashesChainInModuleOrder", testChainLinks},
	{"VerifiesAfterDeadLettersEditsReplaysPurgesAndPruning", testChainSurvives},
	{"ScanIDsInIDOrderWithStateAndHashAsSent", testScanIDs},
	{"RequeuePutsSyncedRecordsBack", testRequeue},
}

func runChain(t *testing.T, h Harness) {
	t.Run("Chain", func(t *testing.T) {
		for _, c := range chain {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, h)
				if _, ok := e.s.(interface {
					bridge.Verifier
					bridge.Reconcilable
				}); !ok {
					t.Skipf("%T keeps no chain", e.s)
				}
				c.fn(t, e)
			})
		}
	})
}

func (e *env) verify(module string) bridge.VerifyReport {
	e.t.Helper()
	rep, err := e.s.(bridge.Verifier).Verify(e.t.Context(), module, nil)
	if err != nil {
		e.t.Fatalf("Verify(%q): %v", module, err)
	}
	return rep
}

func (e *env) verifyClean(what string) bridge.VerifyReport {
	e.t.Helper()
	rep := e.verify("")
	if len(rep.Breaks) > 0 {
		e.t.Fatalf("%s: Verify found breaks in an untouched store: %+v", what, rep.Breaks)
	}
	return rep
}

func testChainLinks(t *testing.T, e *env) {
	e.append(rec("a1", "a", 0), rec("b1", "b", 0), rec("a2", "a", 1))
	e.append(rec("a3", "a", 2))
	prev := map[string]string{"a": bridge.ZeroHashHex, "b": bridge.ZeroHashHex}
	for _, id := range []string{"a1", "b1", "a2", "a3"} {
		r := e.get(id)
		if want := r.ContentHash(); r.Hash != want {
			t.Errorf("%s: Hash = %q, want its content hash %q", id, r.Hash, want)
		}
		if r.PrevHash != prev[r.Module] {
			t.Errorf("%s: PrevHash = %q, want the hash of the module's previous record %q", id, r.PrevHash, prev[r.Module])
		}
		prev[r.Module] = r.Hash
	}
	// Leased records carry their links (the wire's hash and prev_hash).
	l := e.mustLease(lp(ts(3), 10), "a", "a1", "a2", "a3")
	for i, r := range l.Records {
		if r.Hash == "" || r.PrevHash == "" {
			t.Errorf("leased record %d (%s) has no hash or prev_hash", i, r.ID)
		}
	}
	rep := e.verifyClean("fresh")
	if rep.Records != 4 || rep.Modules != 2 {
		t.Errorf("Verify = %+v, want 4 records in 2 modules", rep)
	}
	if rep := e.verify("b"); rep.Records != 1 || len(rep.Breaks) != 0 {
		t.Errorf("Verify(b) = %+v, want 1 record and no break", rep)
	}
}

func testChainSurvives(t *testing.T, e *env) {
	// m: s1 s2 d1 s3 d2 s4 s5, then more after pruning.
	e.append(rec("s1", "m", 0), rec("s2", "m", 0), rec("d1", "m", 0), rec("s3", "m", 0),
		rec("d2", "m", 0), rec("s4", "m", 0), rec("s5", "m", 0), rec("o1", "other", 0))
	e.synced(e.mustLease(lp(ts(1), 2), "m", "s1", "s2"), ts(1), "s1", "s2")
	e.dead(e.mustLease(lp(ts(1), 1), "m", "d1"), ts(1), "d1")
	e.synced(e.mustLease(lp(ts(1), 1), "m", "s3"), ts(1), "s3")
	e.dead(e.mustLease(lp(ts(1), 1), "m", "d2"), ts(1), "d2")
	e.synced(e.mustLease(lp(ts(1), 2), "m", "s4", "s5"), ts(1), "s4", "s5")
	e.verifyClean("after dead letters")

	// An edit is kept in the chain: the record keeps its hash at
	// acceptance; what it sends is the hash of its new data.
	before := e.get("d1")
	if err := e.s.EditDead(t.Context(), bridge.EditParams{ID: "d1", Data: json.RawMessage(`{"fixed":true}`), Now: ts(2)}); err != nil {
		t.Fatalf("EditDead: %v", err)
	}
	after := e.get("d1")
	if after.Hash != before.Hash || after.PrevHash != before.PrevHash {
		t.Errorf("an edit changed the record's links: %s/%s → %s/%s", before.Hash, before.PrevHash, after.Hash, after.PrevHash)
	}
	if rep := e.verifyClean("after an edit"); rep.Edited != 1 {
		t.Errorf("Verify after one edit: Edited = %d, want 1", rep.Edited)
	}
	if n := e.replay(bridge.ReplayParams{IDs: []string{"d1"}, Now: ts(2)}); n != 1 {
		t.Fatalf("replay = %d, want 1", n)
	}
	e.verifyClean("after a replay")
	e.synced(e.mustLease(lp(ts(3), 5), "m", "d1"), ts(3), "d1")
	e.verifyClean("after the replayed record synced")

	// A purge deletes a dead letter in the middle of the chain.
	if n, err := e.s.PurgeDead(t.Context(), bridge.ReplayParams{IDs: []string{"d2"}, Now: ts(3)}); err != nil || n != 1 {
		t.Fatalf("PurgeDead(d2) = %d, %v", n, err)
	}
	if rep := e.verifyClean("after a purge"); rep.Skips != 1 {
		t.Errorf("Verify after purging d2: Skips = %d, want 1", rep.Skips)
	}

	// Pruning deletes every synced record of m: runs at the start, in
	// the middle (around d1, synced later) and at the end.
	if n := prune(t, e, bridge.PruneParams{SyncedBefore: ts(2), Limit: 100}); n != 5 {
		t.Fatalf("Prune = %d, want 5 (s1…s5)", n)
	}
	e.verifyClean("after pruning")
	floor, err := e.s.(bridge.Reconcilable).ReconcileFloor(t.Context(), "m")
	if err != nil || floor != "s5" {
		t.Errorf("ReconcileFloor(m) = %q, %v; want s5, the greatest id pruned", floor, err)
	}
	// A record appended after its module's tail was pruned chains on.
	e.append(rec("n1", "m", 4), rec("n2", "m", 4))
	e.verifyClean("after appending past a pruned tail")
	if n := prune(t, e, bridge.PruneParams{SyncedBefore: ts(10), Limit: 100}); n != 1 {
		t.Fatalf("Prune = %d, want 1 (d1)", n)
	}
	e.verifyClean("after pruning the rest")
	e.reopen()
	e.append(rec("n3", "m", 5))
	rep := e.verifyClean("after reopening")
	if rep.Records != 4 { // n1 n2 n3 o1
		t.Errorf("Verify after reopening checked %d records, want 4", rep.Records)
	}
}

func testScanIDs(t *testing.T, e *env) {
	e.append(rec("c", "m", 0), rec("a", "m", 0), rec("b", "m", 0), rec("d", "m", 0), rec("x", "other", 0))
	e.synced(e.mustLease(lp(ts(1), 1), "m", "c"), ts(1), "c")
	e.dead(e.mustLease(lp(ts(1), 1), "m", "a"), ts(1), "a")
	if err := e.s.EditDead(t.Context(), bridge.EditParams{ID: "a", Data: json.RawMessage(`{"e":1}`), Now: ts(2)}); err != nil {
		t.Fatalf("EditDead: %v", err)
	}
	var got []bridge.HeldRecord
	err := e.s.(bridge.Reconcilable).ScanIDs(t.Context(), "m", "a", "d", func(h bridge.HeldRecord) error {
		got = append(got, h)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanIDs: %v", err)
	}
	want := []struct {
		id    string
		state bridge.State
	}{{"a", bridge.StateDead}, {"b", bridge.StatePending}, {"c", bridge.StateSynced}}
	if len(got) != len(want) {
		t.Fatalf("ScanIDs(m, [a, d)) = %d records %+v, want a, b, c", len(got), got)
	}
	for i, w := range want {
		r := e.get(w.id)
		if got[i].ID != w.id || got[i].State != w.state {
			t.Errorf("ScanIDs[%d] = %s %v, want %s %v", i, got[i].ID, got[i].State, w.id, w.state)
		}
		if h := r.ContentHash(); bridge.ContentHash(r.Module, r.SessionID, r.Data, bridge.FormatTime(r.ReceivedAt), r.ID) != h ||
			got[i].Hash != bridge.ContentSum(r.Module, r.SessionID, r.Data, bridge.FormatTime(r.ReceivedAt), r.ID) {
			t.Errorf("ScanIDs[%d] (%s): hash is not that of its data as sent now", i, w.id)
		}
	}
	var all int
	if err := e.s.(bridge.Reconcilable).ScanIDs(t.Context(), "m", "", "", func(bridge.HeldRecord) error { all++; return nil }); err != nil || all != 4 {
		t.Errorf("ScanIDs(m, unbounded) = %d records, %v; want 4", all, err)
	}
}

func testRequeue(t *testing.T, e *env) {
	e.append(rec("r1", "m", 0), rec("r2", "m", 0), rec("r3", "m", 0))
	e.synced(e.mustLease(lp(ts(1), 2), "m", "r1", "r2"), ts(1), "r1", "r2")
	rc := e.s.(bridge.Reconcilable)
	n, err := rc.Requeue(t.Context(), "m", []string{"r2", "r3", "nope"}, ts(2))
	if err != nil || n != 1 {
		t.Fatalf("Requeue(r2, r3 pending, unknown) = %d, %v; want 1 (only the synced r2)", n, err)
	}
	if r := e.get("r2"); r.State != bridge.StatePending {
		t.Errorf("requeued r2 is %v, want pending", r.State)
	}
	if r := e.get("r1"); r.State != bridge.StateSynced {
		t.Errorf("r1 is %v, want still synced", r.State)
	}
	ms := e.modules()
	if len(ms) != 1 || ms[0].Pending != 2 || ms[0].Synced != 1 {
		t.Errorf("modules after Requeue = %+v, want pending 2 synced 1", ms)
	}
	l := e.lease(lp(ts(2), 10))
	if l == nil {
		t.Fatal("nothing leased after Requeue")
	}
	got := map[string]bool{}
	for _, r := range l.Records {
		got[r.ID] = true
	}
	if !got["r2"] {
		t.Errorf("lease after Requeue = %v, want it to hold r2", ids(l.Records))
	}
	e.verifyClean("after a requeue")
}
