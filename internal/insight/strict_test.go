package insight_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
	"corebridge/internal/store/storetest"
)

// TestHealthNamesStrictBlock: a module of --strict-order whose records wait
// behind a dead record makes health degraded, naming the module and the
// record; a module without strict order, or after the record is purged,
// does not.
func TestHealthNamesStrictBlock(t *testing.T) {
	ctx := t.Context()
	st := storetest.NewMem()
	now := T
	var recs []bridge.NewRecord
	for _, id := range []string{"f1", "f2", "f3"} {
		recs = append(recs, bridge.NewRecord{ID: id, Module: "finance", SessionID: "s", Data: []byte(`{}`), ReceivedAt: now})
	}
	if _, err := st.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	l, err := st.Lease(ctx, bridge.LeaseParams{Owner: "t", Now: now, TTL: time.Minute, MaxRecords: 1})
	if err != nil || l == nil {
		t.Fatal(l, err)
	}
	if err := st.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: "finance", Now: now,
		Dead: []bridge.DeadMark{{ID: "f1", Reason: "rejected by the bucket: bad"}}}); err != nil {
		t.Fatal(err)
	}
	health := func(strict string) insight.Health {
		var so bridge.StrictOrder
		if err := so.Set(strict); err != nil {
			t.Fatal(err)
		}
		hub, err := insight.New(insight.Config{Store: st, Now: func() time.Time { return now }, StrictOrder: so})
		if err != nil {
			t.Fatal(err)
		}
		defer hub.Close()
		return hub.Health(ctx)
	}
	blocked := func(h insight.Health) bool {
		for _, r := range h.Reasons {
			if strings.Contains(r, "finance is blocked by dead record f1 (--strict-order)") && strings.Contains(r, "2 pending") {
				return true
			}
		}
		return false
	}
	for _, strict := range []string{"all", "finance,robotics"} {
		h := health(strict)
		if h.Status != "degraded" || !blocked(h) || !slices.Equal(h.BlockedModules, []string{"finance"}) {
			t.Errorf("--strict-order %s: status %q, reasons %q, blocked %v; want degraded naming finance and f1",
				strict, h.Status, h.Reasons, h.BlockedModules)
		}
	}
	for _, strict := range []string{"", "robotics"} {
		if h := health(strict); blocked(h) || len(h.BlockedModules) != 0 {
			t.Errorf("--strict-order %q: reasons %q, blocked %v; want no block", strict, h.Reasons, h.BlockedModules)
		}
	}
	if _, err := st.PurgeDead(ctx, bridge.ReplayParams{IDs: []string{"f1"}}); err != nil {
		t.Fatal(err)
	}
	if h := health("all"); blocked(h) || len(h.BlockedModules) != 0 {
		t.Errorf("after the purge: reasons %q, blocked %v; want no block", h.Reasons, h.BlockedModules)
	}
}
