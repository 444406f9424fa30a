package storetest

import (
	"encoding/json"
	"testing"

	"corebridge/internal/bridge"
)

func (e *env) appendAudit(es ...bridge.AuditEntry) {
	e.t.Helper()
	for _, a := range es {
		if err := e.s.AppendAudit(e.t.Context(), a); err != nil {
			e.t.Fatalf("AppendAudit(%+v): %v", a, err)
		}
	}
}

func (e *env) listAudit(q bridge.AuditQuery) []bridge.AuditEntry {
	e.t.Helper()
	got, err := e.s.ListAudit(e.t.Context(), q)
	if err != nil {
		e.t.Fatalf("ListAudit(%+v): %v", q, err)
	}
	return got
}

// auditEntries are three entries with every field set, oldest first.
func auditEntries() []bridge.AuditEntry {
	return []bridge.AuditEntry{
		{At: ts(1), Actor: "ops", Role: "operator", Action: bridge.AuditReplay, Target: "ids: a, b", Records: 2},
		{At: ts(2), Actor: "", Action: bridge.AuditLoginFailed},
		{At: ts(3), Actor: "system", Action: bridge.AuditTokensReloaded, Target: "SIGHUP", Records: 0, Detail: "bad file"},
	}
}

// checkAudit compares entries read back (newest first) with want (also
// newest first), ignoring Seq, which it checks strictly decreases.
func checkAudit(t *testing.T, what string, got, want []bridge.AuditEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries %+v, want %d", what, len(got), got, len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if i > 0 && g.Seq >= got[i-1].Seq {
			t.Errorf("%s: entry %d has seq %d after seq %d; want newest (highest) first", what, i, g.Seq, got[i-1].Seq)
		}
		g.Seq, w.Seq = 0, 0
		if !g.At.Equal(w.At) {
			t.Errorf("%s: entry %d at %v, want %v", what, i, g.At, w.At)
		}
		g.At = w.At
		if g != w {
			t.Errorf("%s: entry %d = %+v, want %+v", what, i, g, w)
		}
	}
}

func reversed(es []bridge.AuditEntry) []bridge.AuditEntry {
	out := make([]bridge.AuditEntry, len(es))
	for i, a := range es {
		out[len(es)-1-i] = a
	}
	return out
}

// testAuditNewestFirst: every field comes back, newest first, Seq assigned
// by the store (what the caller passes is ignored).
func testAuditNewestFirst(t *testing.T, e *env) {
	if got := e.listAudit(bridge.AuditQuery{Limit: 10}); len(got) != 0 {
		t.Fatalf("empty store lists %+v", got)
	}
	in := auditEntries()
	in[0].Seq = 99
	e.appendAudit(in...)
	got := e.listAudit(bridge.AuditQuery{Limit: 10})
	checkAudit(t, "ListAudit", got, reversed(auditEntries()))
	if len(got) == 3 && got[2].Seq <= 0 {
		t.Errorf("oldest seq %d, want > 0", got[2].Seq)
	}
	if got := e.listAudit(bridge.AuditQuery{}); len(got) != 3 {
		t.Errorf("ListAudit with no limit: %d entries, want 3 (the default limit is 100)", len(got))
	}
}

// testAuditPaging: BeforeSeq and Limit page back through the log.
func testAuditPaging(t *testing.T, e *env) {
	var want []bridge.AuditEntry
	for i := range 7 {
		a := bridge.AuditEntry{At: ts(i), Actor: "ops", Role: "operator", Action: bridge.AuditPurge, Target: "all", Records: i}
		e.appendAudit(a)
		want = append(want, a)
	}
	want = reversed(want)
	var all []bridge.AuditEntry
	before := int64(0)
	for page := 0; ; page++ {
		got := e.listAudit(bridge.AuditQuery{BeforeSeq: before, Limit: 3})
		if len(got) == 0 {
			break
		}
		if page > 3 {
			t.Fatalf("paging does not end")
		}
		if len(got) > 3 {
			t.Fatalf("page of %d entries with Limit 3", len(got))
		}
		all = append(all, got...)
		before = got[len(got)-1].Seq
	}
	checkAudit(t, "pages", all, want)
}

// testAuditDurable: the log survives reopen and Seq keeps growing.
func testAuditDurable(t *testing.T, e *env) {
	e.appendAudit(auditEntries()...)
	before := e.listAudit(bridge.AuditQuery{Limit: 10})
	e.reopen()
	after := e.listAudit(bridge.AuditQuery{Limit: 10})
	checkAudit(t, "after reopen", after, reversed(auditEntries()))
	for i := range min(len(before), len(after)) {
		if before[i].Seq != after[i].Seq {
			t.Errorf("entry %d: seq %d before reopen, %d after", i, before[i].Seq, after[i].Seq)
		}
	}
	e.appendAudit(bridge.AuditEntry{At: ts(9), Actor: "ops", Role: "operator", Action: bridge.AuditLogout})
	got := e.listAudit(bridge.AuditQuery{Limit: 1})
	if len(got) != 1 || got[0].Action != bridge.AuditLogout || (len(before) > 0 && got[0].Seq <= before[0].Seq) {
		t.Errorf("newest after reopen = %+v; want the logout, with a seq above %+v", got, before)
	}
}

// testEditAuthor: an edit keeps its author, also across reopen.
func testEditAuthor(t *testing.T, e *env) {
	e.append(rec("d1", "m", 0))
	e.dead(e.mustLease(lp(ts(5), 1), "m", "d1"), ts(5), "d1")
	if err := e.s.EditDead(t.Context(), bridge.EditParams{ID: "d1", Data: json.RawMessage(`{"a":1}`), Author: "alice", Now: ts(6)}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.EditDead(t.Context(), bridge.EditParams{ID: "d1", Data: json.RawMessage(`{"a":2}`), Now: ts(7)}); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	edits, err := e.s.Edits(t.Context(), "d1")
	if err != nil || len(edits) != 2 {
		t.Fatalf("Edits = %+v, %v; want two", edits, err)
	}
	if edits[0].Author != "alice" || edits[1].Author != "" {
		t.Errorf("authors %q, %q; want alice, then none", edits[0].Author, edits[1].Author)
	}
}
