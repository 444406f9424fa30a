package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// t0 is the suite's epoch. Every time is passed to the store explicitly, so
// no case depends on the wall clock; the odd microseconds check that
// precision survives a round trip.
var t0 = bridge.Truncate(time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC))

// ts is t0 plus n seconds.
func ts(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// rec builds a record of module received at ts(sec).
func rec(id, module string, sec int) bridge.NewRecord {
	return bridge.NewRecord{
		ID:         id,
		Module:     module,
		SessionID:  "sess-" + id,
		Data:       json.RawMessage(`{"id":"` + id + `","n":1}`),
		ReceivedAt: ts(sec),
	}
}

// keyed returns r with dedupe key k.
func keyed(r bridge.NewRecord, k string) bridge.NewRecord {
	r.DedupeKey = k
	return r
}

// resend is orig sent again: the same update (module, session, data, key)
// with a new id, received at ts(sec).
func resend(orig bridge.NewRecord, id string, sec int) bridge.NewRecord {
	orig.ID, orig.ReceivedAt = id, ts(sec)
	return orig
}

// sized returns r with data of exactly n bytes (n >= 8).
func sized(r bridge.NewRecord, n int) bridge.NewRecord {
	r.Data = json.RawMessage(`{"p":"` + strings.Repeat("x", n-8) + `"}`)
	return r
}

// fresh is what Append must store for n: pending, no attempts, due at once.
func fresh(n bridge.NewRecord, seq int64) bridge.Record {
	return bridge.Record{
		ID:            n.ID,
		Seq:           seq,
		Module:        n.Module,
		SessionID:     n.SessionID,
		Data:          n.Data,
		ReceivedAt:    n.ReceivedAt,
		State:         bridge.StatePending,
		NextAttemptAt: n.ReceivedAt,
	}
}

func ids(rs []bridge.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// diffRecord lists the fields in which got differs from want. A zero
// want.NextAttemptAt is not checked: the contract leaves it open once a
// record is synced or dead.
func diffRecord(got, want bridge.Record) []string {
	var d []string
	ne := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.ID != want.ID {
		ne("ID", got.ID, want.ID)
	}
	if got.Seq != want.Seq {
		ne("Seq", got.Seq, want.Seq)
	}
	if got.Module != want.Module {
		ne("Module", got.Module, want.Module)
	}
	if got.SessionID != want.SessionID {
		ne("SessionID", got.SessionID, want.SessionID)
	}
	if !bytes.Equal(got.Data, want.Data) {
		ne("Data", string(got.Data), string(want.Data))
	}
	if !got.ReceivedAt.Equal(want.ReceivedAt) {
		ne("ReceivedAt", got.ReceivedAt, want.ReceivedAt)
	}
	if got.State != want.State {
		ne("State", got.State, want.State)
	}
	if got.Attempts != want.Attempts {
		ne("Attempts", got.Attempts, want.Attempts)
	}
	if !want.NextAttemptAt.IsZero() && !got.NextAttemptAt.Equal(want.NextAttemptAt) {
		ne("NextAttemptAt", got.NextAttemptAt, want.NextAttemptAt)
	}
	if got.LastError != want.LastError {
		ne("LastError", got.LastError, want.LastError)
	}
	if !got.SyncedAt.Equal(want.SyncedAt) {
		ne("SyncedAt", got.SyncedAt, want.SyncedAt)
	}
	return d
}

func checkRecord(t *testing.T, what string, got, want bridge.Record) {
	t.Helper()
	if d := diffRecord(got, want); len(d) > 0 {
		t.Errorf("%s %s:\n\t%s", what, want.ID, strings.Join(d, "\n\t"))
	}
}

// checkRecords compares two lists of records, one by one.
func checkRecords(t *testing.T, what string, got, want []bridge.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got records %v, want %v", what, ids(got), ids(want))
		return
	}
	for i := range got {
		checkRecord(t, what, got[i], want[i])
	}
}

// checkAppended compares one outcome of Append.
func checkAppended(t *testing.T, i int, got, want bridge.Appended) {
	t.Helper()
	if got.ID != want.ID || got.SessionID != want.SessionID ||
		!got.ReceivedAt.Equal(want.ReceivedAt) || got.Duplicate != want.Duplicate {
		t.Errorf("Appended[%d] = %+v, want %+v", i, got, want)
	}
}
