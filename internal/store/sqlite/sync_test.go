package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// After a settle (which commits without its own fsync) the write
// connection is back at synchronous=FULL, so the next group commit is
// durable on its own: guarantee 1 depends on it.
func TestSettleLeavesWriterAtFull(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "c.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := bridge.Truncate(time.Now())
	if _, err := s.Append(ctx, []bridge.NewRecord{{ID: "r1", Module: "m", SessionID: "s", Data: []byte(`{}`), ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	l, err := s.Lease(ctx, bridge.LeaseParams{Owner: "t", Now: now, TTL: time.Minute, MaxRecords: 10})
	if err != nil || l == nil {
		t.Fatalf("lease: %v %v", l, err)
	}
	if err := s.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: "m", Now: now, Synced: []string{"r1"}}); err != nil {
		t.Fatal(err)
	}
	var level int
	if err := s.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != 2 {
		t.Fatalf("synchronous on the write connection after a settle = %d, want 2 (FULL)", level)
	}
	if r, _ := s.Get(ctx, "r1"); r.State != bridge.StateSynced {
		t.Fatalf("record after settle: %+v", r)
	}
}
