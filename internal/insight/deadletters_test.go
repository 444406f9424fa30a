package insight_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
)

func deadRec(id, module string) bridge.NewRecord {
	return bridge.NewRecord{ID: id, Module: module, SessionID: "s", Data: json.RawMessage(`{}`), ReceivedAt: T}
}

// kill settles n records of the head module as dead at now with reason,
// and reports them to the hub as the forwarder does.
func kill(r *rig, now time.Time, n int, reason string) {
	r.t.Helper()
	var dead []bridge.Record
	r.settle(now, n, func(ids []string, s *bridge.Settlement) {
		for _, id := range ids {
			s.Dead = append(s.Dead, bridge.DeadMark{ID: id, Reason: reason})
			rec, _ := r.store.Get(r.t.Context(), id)
			rec.LastError = reason
			dead = append(dead, rec)
		}
	})
	r.hub.Delivered(bridge.Attempt{At: now, Module: dead[0].Module, Outcome: bridge.AttemptRejected}, nil, dead, nil)
}

func reasonWith(h insight.Health, part string) string {
	for _, r := range h.Reasons {
		if strings.Contains(r, part) {
			return r
		}
	}
	return ""
}

// Records that went dead within --stale-after make health degraded, naming
// the module, the count and the latest reason; the reason goes once the
// window passes with no new dead letter, and survives a restart (from the
// rollups) meanwhile.
func TestHealthDegradedOnRecentDeadLetters(t *testing.T) {
	r := newRig(t)
	r.append(deadRec("f1", "finance"), deadRec("f2", "finance"), deadRec("f3", "finance"))
	now := at(time.Minute)
	r.clk.Set(now)
	kill(r, now, 2, "rejected by the bucket: amount must be a number")
	kill(r, now.Add(time.Second), 1, "rejected by the bucket: currency is missing")
	r.clk.Set(now.Add(2 * time.Minute))
	h := r.hub.Health(t.Context())
	want := "3 records of finance went dead in the last 5m: rejected by the bucket: currency is missing"
	if h.Status != "degraded" || reasonWith(h, want) == "" {
		t.Fatalf("health %s %q, want degraded with %q", h.Status, h.Reasons, want)
	}

	// A restart keeps the count (the rollups hold it), not the reason.
	r.close()
	r.open()
	h = r.hub.Health(t.Context())
	if got := reasonWith(h, "3 records of finance went dead in the last 5m"); h.Status != "degraded" || got == "" {
		t.Fatalf("after a restart: health %s %q, want the dead letters still named", h.Status, h.Reasons)
	}

	r.clk.Set(now.Add(7 * time.Minute))
	h = r.hub.Health(t.Context())
	if got := reasonWith(h, "went dead"); got != "" {
		t.Errorf("the window passed with no new dead letter, but health says %q", got)
	}
	if h.DeadCount != 3 {
		t.Errorf("dead_count %d, want the 3 dead letters still counted", h.DeadCount)
	}
}

// The 24 h success rate falling below the threshold makes health degraded,
// with the figure and the threshold; 0 turns the rule off.
func TestHealthDegradedOnLowSuccessRate(t *testing.T) {
	for _, pct := range []float64{90, 0} {
		t.Run(fmt.Sprint(pct), func(t *testing.T) {
			r := newRig(t)
			r.close()
			hub, err := insight.New(insight.Config{Store: r.store, Now: r.clk.Now, DegradedSuccessPct: pct,
				StaleAfter: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			r.hub = hub
			r.append(deadRec("a", "edu"), deadRec("b", "edu"), deadRec("c", "edu"), deadRec("d", "edu"))
			now := at(time.Minute)
			r.settle(now, 4, func(ids []string, s *bridge.Settlement) {
				s.Synced = ids[:3]
				s.Retry, s.RetryAt, s.Error = ids[3:], now.Add(time.Hour), "timeout"
			})
			r.clk.Set(now.Add(30 * time.Second))
			h := r.hub.Health(t.Context())
			got := reasonWith(h, "success rate")
			if pct == 0 {
				if got != "" {
					t.Errorf("rule off, but health says %q", got)
				}
				return
			}
			want := "24 h sync success rate is 75.0%, below the 90% threshold"
			if h.Status != "degraded" || got != want {
				t.Errorf("health %s %q, want degraded with %q", h.Status, h.Reasons, want)
			}
		})
	}
}
