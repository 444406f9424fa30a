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

// Dead letters replayed (or purged) within the window are dealt with: the
// reason goes at once, not when the window ends.
func TestHealthForgetsDeadLettersReplayed(t *testing.T) {
	r := newRig(t)
	r.append(deadRec("f1", "finance"), deadRec("f2", "finance"), deadRec("e1", "edu"))
	now := at(time.Minute)
	r.clk.Set(now)
	kill(r, now, 2, "rejected by the bucket: amount must be a number")
	kill(r, now, 1, "rejected by the bucket: score is missing")
	r.clk.Set(now.Add(time.Minute))
	if h := r.hub.Health(t.Context()); reasonWith(h, "of finance went dead") == "" || reasonWith(h, "of edu went dead") == "" {
		t.Fatalf("health %s %q, want both modules' dead letters named", h.Status, h.Reasons)
	}
	if _, err := r.store.ReplayDead(t.Context(), bridge.ReplayParams{Module: "finance", Now: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	h := r.hub.Health(t.Context())
	if got := reasonWith(h, "of finance went dead"); got != "" {
		t.Errorf("finance's dead letters were replayed, but health says %q", got)
	}
	if reasonWith(h, "of edu went dead") == "" {
		t.Errorf("health %q, want edu's dead letters still named", h.Reasons)
	}
}

// The 24 h success rate falling below the threshold makes health degraded,
// with the figure and the threshold; 0 turns the rule off; fewer than
// minSuccessSample records judged are too few to judge (a quiet bridge with
// one failed attempt next to three synced would be degraded for a day).
func TestHealthDegradedOnLowSuccessRate(t *testing.T) {
	for _, c := range []struct {
		name string
		pct  float64
		n    int // records: 3/4 synced, 1/4 retried
		want bool
	}{{"90", 90, 20, true}, {"off", 0, 20, false}, {"too few", 90, 4, false}} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.close()
			hub, err := insight.New(insight.Config{Store: r.store, Now: r.clk.Now, DegradedSuccessPct: c.pct,
				StaleAfter: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			r.hub = hub
			var recs []bridge.NewRecord
			for i := range c.n {
				recs = append(recs, deadRec(fmt.Sprint("r", i), "edu"))
			}
			r.append(recs...)
			now := at(time.Minute)
			synced := c.n * 3 / 4
			r.settle(now, c.n, func(ids []string, s *bridge.Settlement) {
				s.Synced = ids[:synced]
				s.Retry, s.RetryAt, s.Error = ids[synced:], now.Add(time.Hour), "timeout"
			})
			r.clk.Set(now.Add(30 * time.Second))
			h := r.hub.Health(t.Context())
			got := reasonWith(h, "success rate")
			if !c.want {
				if got != "" {
					t.Errorf("health says %q, want no success-rate reason", got)
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
