package drill

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	acked := map[string][]Acked{
		"a": {{Module: "a", Seq: 0, ID: "a0"}, {Module: "a", Seq: 1, ID: "a1"}, {Module: "a", Seq: 2, ID: "a2"}},
		"b": {{Module: "b", Seq: 0, ID: "b0"}, {Module: "b", Seq: 1, ID: "b1"}},
	}
	held := []Held{
		{ID: "a0", Module: "a", Run: "r", Seq: 0},
		{ID: "b0", Module: "b", Run: "r", Seq: 0},
		{ID: "a2", Module: "a", Run: "r", Seq: 2},
		{ID: "a1", Module: "a", Run: "r", Seq: 1}, // after seq 2: out of order
		{ID: "b1", Module: "b", Run: "r", Seq: 1},
		{ID: "b1x", Module: "b", Run: "r", Seq: 1}, // the same update under another id
		{ID: "zz", Module: "a", Run: "other", Seq: 0},
	}
	c := compare("r", acked, held)
	if len(c.lost) != 0 || len(c.order) != 1 || c.order[0].ID != "a1" || c.order[0].AfterSeq != 2 {
		t.Errorf("lost %v, order %v", c.lost, c.order)
	}
	if len(c.duplicates) != 1 || c.duplicates[0].Module != "b" || c.duplicates[0].Seq != 1 || len(c.duplicates[0].IDs) != 2 {
		t.Errorf("duplicates %v", c.duplicates)
	}
	if c.heldTotal != 6 || c.extra != 1 || c.held["a"] != 3 {
		t.Errorf("held %d (a %d), extra %d", c.heldTotal, c.held["a"], c.extra)
	}

	// Without a1: it is lost, named with its module and sequence number.
	c = compare("r", acked, append(held[:3:3], held[4:]...))
	if len(c.lost) != 1 || c.lost[0].ID != "a1" || c.lost[0].Module != "a" || c.lost[0].Seq != 1 || c.lostCount["a"] != 1 {
		t.Errorf("lost %v", c.lost)
	}
	if len(c.order) != 0 {
		t.Errorf("order %v", c.order)
	}
}

func TestReportNamesTheLost(t *testing.T) {
	r := Report{Run: "r", Checked: true, OrderChecked: true, Lost: []LostRecord{{ID: "0193-x", Module: "finance", Seq: 99, Key: "k"}},
		Problems: []string{"LOST 1 acknowledged record(s): 0193-x (module finance, seq 99)"},
		Faults:   []FaultReport{{Name: "kill-9 bridge", Recovered: true, RecoveryMs: 150, LastedMs: 1000}, {Name: "disk full", Skipped: true, SkipReason: "not root"}}}
	var b strings.Builder
	r.WriteText(&b)
	for _, want := range []string{"FAILED", "0193-x  module finance, seq 99", "recovered in 150ms", "skipped", "not root"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the text report lacks %q:\n%s", want, b.String())
		}
	}
}
