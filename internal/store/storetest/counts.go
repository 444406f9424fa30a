package storetest

import (
	"fmt"
	"strings"
	"testing"

	"corebridge/internal/bridge"
)

// checkStats compares every field of Stats.
func checkStats(t *testing.T, got, want bridge.Stats) {
	t.Helper()
	var d []string
	ne := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.Received != want.Received {
		ne("Received", got.Received, want.Received)
	}
	if got.Pending != want.Pending {
		ne("Pending", got.Pending, want.Pending)
	}
	if got.Synced != want.Synced {
		ne("Synced", got.Synced, want.Synced)
	}
	if got.Dead != want.Dead {
		ne("Dead", got.Dead, want.Dead)
	}
	if !got.LastSyncAt.Equal(want.LastSyncAt) {
		ne("LastSyncAt", got.LastSyncAt, want.LastSyncAt)
	}
	if !got.OldestPendingAt.Equal(want.OldestPendingAt) {
		ne("OldestPendingAt", got.OldestPendingAt, want.OldestPendingAt)
	}
	if len(d) > 0 {
		t.Errorf("Stats:\n\t%s", strings.Join(d, "\n\t"))
	}
}

// checkModules compares Modules with want, which is sorted by name.
func checkModules(t *testing.T, got, want []bridge.ModuleSummary) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("Modules = %+v, want %+v", got, want)
		return
	}
	for i, w := range want {
		g := got[i]
		if g.Module != w.Module || g.Received != w.Received || g.Pending != w.Pending ||
			g.Synced != w.Synced || g.Dead != w.Dead ||
			!g.LastSeenAt.Equal(w.LastSeenAt) || !g.LastSyncAt.Equal(w.LastSyncAt) {
			t.Errorf("Modules[%d] = %+v, want %+v", i, g, w)
		}
	}
}

// counts is the short form of a ModuleSummary without times.
func counts(module string, received, pending, synced, dead int64) bridge.ModuleSummary {
	return bridge.ModuleSummary{Module: module, Received: received, Pending: pending, Synced: synced, Dead: dead}
}

// checkCounts compares only the counts of Stats and Modules, for cases
// where the times are checked elsewhere.
func checkCounts(t *testing.T, e *env, want ...bridge.ModuleSummary) {
	t.Helper()
	var sum bridge.Stats
	for _, w := range want {
		sum.Received += w.Received
		sum.Pending += w.Pending
		sum.Synced += w.Synced
		sum.Dead += w.Dead
	}
	st := e.stats()
	if st.Received != sum.Received || st.Pending != sum.Pending || st.Synced != sum.Synced || st.Dead != sum.Dead {
		t.Errorf("Stats counts = received %d pending %d synced %d dead %d, want %d %d %d %d",
			st.Received, st.Pending, st.Synced, st.Dead, sum.Received, sum.Pending, sum.Synced, sum.Dead)
	}
	ms := e.modules()
	if len(ms) != len(want) {
		t.Errorf("Modules = %+v, want counts %+v", ms, want)
		return
	}
	for i, w := range want {
		g := ms[i]
		if g.Module != w.Module || g.Received != w.Received || g.Pending != w.Pending || g.Synced != w.Synced || g.Dead != w.Dead {
			t.Errorf("Modules[%d] counts = %s received %d pending %d synced %d dead %d, want %s %d %d %d %d",
				i, g.Module, g.Received, g.Pending, g.Synced, g.Dead, w.Module, w.Received, w.Pending, w.Synced, w.Dead)
		}
	}
}
