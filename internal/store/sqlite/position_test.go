package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// TestLeaseStopsAtDurable: records committed by AppendDeferred are read
// (Get) at once but not leased for delivery until a Sync has made them
// durable, so the Bucket never holds a record that a power loss could
// take from the store before its producer was answered.
func TestLeaseStopsAtDurable(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "d.db"))
	defer s.Close()
	at := time.Now().UTC().Truncate(time.Microsecond)
	p := bridge.LeaseParams{Owner: "w", Now: at, TTL: time.Hour, MaxRecords: 10}
	if _, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("a", "", at)}); err != nil {
		t.Fatal(err)
	}
	b := keyedRecord("b", "", at)
	b.Module = "n"
	if _, err := s.AppendDeferred(ctx, []bridge.NewRecord{b}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Get(ctx, "b"); err != nil || r.State != bridge.StatePending {
		t.Fatalf("b before its sync: %+v, %v; want it readable, pending", r, err)
	}
	l, err := s.Lease(ctx, p)
	if err != nil || l == nil || len(l.Records) != 1 || l.Records[0].ID != "a" {
		t.Fatalf("lease before the sync = %+v, %v; want a alone", l, err)
	}
	if l, err := s.Lease(ctx, p); err != nil || l != nil {
		t.Fatalf("lease of a record not yet synced to disk = %+v, %v; want none", l, err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if l, err := s.Lease(ctx, p); err != nil || l == nil || len(l.Records) != 1 || l.Records[0].ID != "b" {
		t.Fatalf("lease after the sync = %+v, %v; want b", l, err)
	}
}

// TestSyncByPosition: a settle that confirms the head of its lease moves
// the module's position instead of rewriting each record; records after
// one to retry are marked one by one; Get, Stats, the attempt count and
// the sync time read the same either way, across a reopen; replayed dead
// letters below the position are pending again and go out first; prune
// deletes records synced by position and their marks.
func TestSyncByPosition(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	s := openTest(t, path)
	at := time.Now().UTC().Truncate(time.Microsecond)
	var recs []bridge.NewRecord
	for _, id := range []string{"r1", "r2", "r3", "r4", "r5", "r6"} {
		recs = append(recs, keyedRecord(id, "", at))
	}
	if _, err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	p := bridge.LeaseParams{Owner: "w", Now: at, TTL: time.Hour, MaxRecords: 10}
	l, err := s.Lease(ctx, p)
	if err != nil || l == nil || len(l.Records) != 6 {
		t.Fatalf("lease = %+v, %v", l, err)
	}
	t1 := at.Add(time.Second)
	// r1, r2 synced, r3 dead: the position moves to r3. r4 to retry stops
	// it; r5 synced after it is marked by itself; r6 not named stays.
	if err := s.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: "m", Now: t1,
		Synced: []string{"r1", "r2", "r5"}, Dead: []bridge.DeadMark{{ID: "r3", Reason: "rejected"}},
		Retry: []string{"r4"}, RetryAt: at, Error: "503"}); err != nil {
		t.Fatal(err)
	}
	var pos int64
	if err := s.r.QueryRowContext(ctx, `SELECT synced_seq FROM modules WHERE module = 'm'`).Scan(&pos); err != nil {
		t.Fatal(err)
	}
	seqOf := func(id string) int64 {
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Seq
	}
	if pos != seqOf("r3") {
		t.Fatalf("synced position %d, want r3's seq %d", pos, seqOf("r3"))
	}
	var explicit int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM records WHERE state = 1`).Scan(&explicit); err != nil {
		t.Fatal(err)
	}
	if explicit != 1 {
		t.Fatalf("%d records rewritten as synced, want 1 (r5, after the record to retry)", explicit)
	}
	check := func(when string) {
		t.Helper()
		want := map[string]bridge.State{"r1": bridge.StateSynced, "r2": bridge.StateSynced, "r3": bridge.StateDead,
			"r4": bridge.StatePending, "r5": bridge.StateSynced, "r6": bridge.StatePending}
		for id, st := range want {
			r, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.State != st {
				t.Errorf("%s: %s is %v, want %v", when, id, r.State, st)
			}
			if st == bridge.StateSynced && (!r.SyncedAt.Equal(t1) || r.Attempts != 1) {
				t.Errorf("%s: %s synced at %v after %d attempts, want %v after 1", when, id, r.SyncedAt, r.Attempts, t1)
			}
		}
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Synced != 3 || st.Pending != 2 || st.Dead != 1 || !st.OldestPendingAt.Equal(at) {
			t.Errorf("%s: stats %+v, want 3 synced, 2 pending, 1 dead, oldest pending at %v", when, st, at)
		}
	}
	check("after the settle")
	s.Close()
	s = openTest(t, path)
	defer s.Close()
	check("after a reopen")

	// The dead letter below the position is replayed: pending, leased
	// first, and synced one by one.
	if n, err := s.ReplayDead(ctx, bridge.ReplayParams{IDs: []string{"r3"}, Now: at}); err != nil || n != 1 {
		t.Fatalf("replay = %d, %v", n, err)
	}
	if r, _ := s.Get(ctx, "r3"); r.State != bridge.StatePending {
		t.Fatalf("replayed r3 is %v, want pending", r.State)
	}
	l, err = s.Lease(ctx, p)
	if err != nil || l == nil || len(l.Records) != 3 || l.Records[0].ID != "r3" || l.Records[1].ID != "r4" || l.Records[2].ID != "r6" {
		t.Fatalf("lease after the replay = %+v, %v; want r3, r4, r6", l, err)
	}
	t2 := t1.Add(time.Second)
	if err := s.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: "m", Now: t2, Synced: []string{"r3", "r4", "r6"}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r3", "r4", "r6"} {
		if r, _ := s.Get(ctx, id); r.State != bridge.StateSynced || !r.SyncedAt.Equal(t2) {
			t.Errorf("%s after its settle: %v at %v, want synced at %v", id, r.State, r.SyncedAt, t2)
		}
	}
	if st, _ := s.Stats(ctx); st.Synced != 6 || st.Pending != 0 || st.Dead != 0 {
		t.Fatalf("stats %+v, want 6 synced", st)
	}
	if l, err := s.Lease(ctx, p); err != nil || l != nil {
		t.Fatalf("lease with nothing pending = %+v, %v", l, err)
	}

	// Prune: records synced before t2 go (r1, r2 by position; r5 by its
	// mark), those synced at t2 stay; then all, with their marks.
	n, err := s.Prune(ctx, bridge.PruneParams{SyncedBefore: t2, Limit: 100})
	if err != nil || n != 3 {
		t.Fatalf("prune before t2 = %d, %v; want 3 (r1, r2, r5)", n, err)
	}
	n, err = s.Prune(ctx, bridge.PruneParams{SyncedBefore: t2.Add(time.Second), Limit: 100})
	if err != nil || n != 3 {
		t.Fatalf("prune of the rest = %d, %v; want 3", n, err)
	}
	var marks int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sync_marks WHERE seq < ?`, pos+3).Scan(&marks); err != nil {
		t.Fatal(err)
	}
	if marks != 0 {
		t.Errorf("%d marks of pruned records left", marks)
	}
}

// TestPositionAfterLostLease: a lease that expires while its batch is in
// flight is taken again by another worker; the first settle (its lease
// lost) is refused and changes nothing; the second (its lease held)
// moves the position and counts the records synced once.
func TestPositionAfterLostLease(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "l.db"))
	defer s.Close()
	at := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("a", "", at), keyedRecord("b", "", at)}); err != nil {
		t.Fatal(err)
	}
	first, err := s.Lease(ctx, bridge.LeaseParams{Owner: "w1", Now: at, TTL: time.Nanosecond, MaxRecords: 10})
	if err != nil || first == nil {
		t.Fatalf("first lease = %+v, %v", first, err)
	}
	time.Sleep(time.Millisecond) // the first lease expires
	second, err := s.Lease(ctx, bridge.LeaseParams{Owner: "w2", Now: at, TTL: time.Hour, MaxRecords: 10})
	if err != nil || second == nil || len(second.Records) != 2 {
		t.Fatalf("second lease = %+v, %v; want both records again", second, err)
	}
	// The expired lease's settle is fenced off: it changes nothing.
	if err := s.Settle(ctx, bridge.Settlement{LeaseID: first.ID, Module: "m", Now: at, Synced: []string{"a", "b"}}); !bridge.IsLeaseLost(err) {
		t.Fatalf("settle of the expired lease: %v; want LeaseLost", err)
	}
	if st, _ := s.Stats(ctx); st.Synced != 0 || st.Pending != 2 {
		t.Fatalf("after the refused settle: %+v; want 2 pending, none synced", st)
	}
	if err := s.Settle(ctx, bridge.Settlement{LeaseID: second.ID, Module: "m", Now: at, Synced: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Synced != 2 || st.Pending != 0 || st.Received != 2 {
		t.Fatalf("stats %+v, want 2 received, 2 synced, 0 pending", st)
	}
	for _, id := range []string{"a", "b"} {
		if r, _ := s.Get(ctx, id); r.State != bridge.StateSynced {
			t.Errorf("%s is %v, want synced", id, r.State)
		}
	}
}

// TestFailedSyncIsFinal: once an fsync of the WAL has failed, nothing is
// acknowledged any more (Append fails with EUNAVAILABLE, and so does the
// Ping that health runs), records committed but never synced are not
// delivered, and it stays so until the store is reopened.
func TestFailedSyncIsFinal(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	s := openTest(t, path)
	at := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("a", "", at)}); err != nil {
		t.Fatal(err)
	}
	s.db.FailSyncs(errors.New("EIO"))
	if _, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("b", "", at)}); bridge.ErrorCode(err) != bridge.EUNAVAILABLE {
		t.Fatalf("Append after a failed fsync: %v; want EUNAVAILABLE", err)
	}
	s.db.FailSyncs(nil) // the disk seems back: the failure still holds
	if _, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("c", "", at)}); bridge.ErrorCode(err) != bridge.EUNAVAILABLE {
		t.Fatalf("Append after the fsync failed once: %v; want EUNAVAILABLE still", err)
	}
	if err := s.Ping(ctx); bridge.ErrorCode(err) != bridge.EUNAVAILABLE {
		t.Fatalf("Ping after a failed fsync: %v; want EUNAVAILABLE", err)
	}
	l, err := s.Lease(ctx, bridge.LeaseParams{Owner: "w", Now: at, TTL: time.Hour, MaxRecords: 10})
	if err != nil || l == nil || len(l.Records) != 1 || l.Records[0].ID != "a" {
		t.Fatalf("lease after the failed fsync = %+v, %v; want a alone (b and c were never synced)", l, err)
	}
	s.Close()
	s = openTest(t, path)
	defer s.Close()
	if _, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("d", "", at)}); err != nil {
		t.Fatalf("Append after a reopen: %v", err)
	}
}
