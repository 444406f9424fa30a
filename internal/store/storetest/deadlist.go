package storetest

import (
	"slices"
	"testing"

	"corebridge/internal/bridge"
)

// appendDeadMany leaves a1, b1, a2, b2, a3 dead (in that Seq order) and a4
// pending.
func appendDeadMany(e *env) {
	e.append(rec("a1", "a", 0), rec("b1", "b", 0), rec("a2", "a", 0), rec("b2", "b", 0), rec("a3", "a", 0), rec("a4", "a", 0))
	e.dead(e.mustLease(lp(ts(0), 3), "a", "a1", "a2", "a3"), ts(1), "a1", "a2", "a3")
	e.dead(e.mustLease(lp(ts(1), 3), "b", "b1", "b2"), ts(1), "b1", "b2")
}

// pages reads every page of q and returns the ids of each page.
func pages(t *testing.T, e *env, q bridge.DeadQuery) [][]string {
	t.Helper()
	var out [][]string
	for range 10 {
		page := e.listDead(q)
		if len(page) == 0 {
			return out
		}
		for _, r := range page {
			checkRecord(t, "ListDead", r, e.get(r.ID))
			if r.State != bridge.StateDead || r.LastError != "reason-"+r.ID {
				t.Errorf("ListDead returned %s in state %v with LastError %q, want dead with reason-%s", r.ID, r.State, r.LastError, r.ID)
			}
		}
		out = append(out, ids(page))
		q.AfterSeq = page[len(page)-1].Seq
	}
	t.Fatalf("ListDead(%+v) does not end after 10 pages: %v", q, out)
	return nil
}

func checkPages(t *testing.T, q bridge.DeadQuery, got, want [][]string) {
	t.Helper()
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("pages of ListDead(%+v) = %v, want %v", q, got, want)
	}
}

func testListDeadPaging(t *testing.T, e *env) {
	appendDeadMany(e)
	q := bridge.DeadQuery{Limit: 2}
	checkPages(t, q, pages(t, e, q), [][]string{{"a1", "b1"}, {"a2", "b2"}, {"a3"}})
	q = bridge.DeadQuery{Limit: 10}
	checkPages(t, q, pages(t, e, q), [][]string{{"a1", "b1", "a2", "b2", "a3"}})

	// Paging starts strictly after AfterSeq.
	q = bridge.DeadQuery{Limit: 10, AfterSeq: e.get("b1").Seq}
	checkPages(t, q, pages(t, e, q), [][]string{{"a2", "b2", "a3"}})
	q = bridge.DeadQuery{Limit: 10, AfterSeq: e.get("a3").Seq}
	checkPages(t, q, pages(t, e, q), nil)
}

func testListDeadModule(t *testing.T, e *env) {
	appendDeadMany(e)
	q := bridge.DeadQuery{Module: "a", Limit: 2}
	checkPages(t, q, pages(t, e, q), [][]string{{"a1", "a2"}, {"a3"}})
	q = bridge.DeadQuery{Module: "b", Limit: 10}
	checkPages(t, q, pages(t, e, q), [][]string{{"b1", "b2"}})
	q = bridge.DeadQuery{Module: "c", Limit: 10}
	checkPages(t, q, pages(t, e, q), nil)

	// Replayed records leave the list.
	e.replay(bridge.ReplayParams{IDs: []string{"a2"}, Now: ts(5)})
	q = bridge.DeadQuery{Module: "a", Limit: 10}
	checkPages(t, q, pages(t, e, q), [][]string{{"a1", "a3"}})
}
