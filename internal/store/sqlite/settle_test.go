package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// TestFailedSettleReleasesLease: a settle that fails (here its context is
// gone; on a full disk its commit fails) changes no record and frees the
// module at once, so the batch is sent again now, not after the lease's
// TTL. Before, the module stayed leased, and its delivery stalled, for
// the whole TTL (the delivery timeout + 30 s by default).
func TestFailedSettleReleasesLease(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	at := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("a", "", at), keyedRecord("b", "", at)}); err != nil {
		t.Fatal(err)
	}
	p := bridge.LeaseParams{Owner: "w", Now: at, TTL: time.Hour, MaxRecords: 10}
	l, err := s.Lease(ctx, p)
	if err != nil || l == nil || len(l.Records) != 2 {
		t.Fatalf("lease = %+v, %v; want both records", l, err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Settle(gone, bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: at, Synced: []string{"a", "b"}}); err == nil {
		t.Fatal("settle with a cancelled context succeeded; the test needs it to fail")
	}
	for _, id := range []string{"a", "b"} {
		if r, err := s.Get(ctx, id); err != nil || r.State != bridge.StatePending {
			t.Fatalf("%s after the failed settle: %+v, %v; want pending", id, r, err)
		}
	}
	again, err := s.Lease(ctx, p)
	if err != nil || again == nil || len(again.Records) != 2 {
		t.Fatalf("lease after the failed settle = %+v, %v; want both records again at once", again, err)
	}
}
