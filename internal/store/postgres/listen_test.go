package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/store/postgres"
	"corebridge/internal/store/postgres/pgtest"
)

// TestListenWakesOnOtherHandlesRecords: a handle listening is woken when
// another handle (another replica) appends records or replays dead ones.
func TestListenWakesOnOtherHandlesRecords(t *testing.T) {
	db := pgtest.FreshDB(t)
	ctx := t.Context()
	a, err := postgres.Open(ctx, db, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, db, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	woken := make(chan struct{}, 16)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.Listen(lctx, func() { woken <- struct{}{} })
	wait := func(what string) {
		t.Helper()
		select {
		case <-woken:
		case <-time.After(5 * time.Second):
			t.Fatalf("not woken by %s", what)
		}
	}
	wait("listening") // once when it starts
	now := bridge.Now()
	if _, err := a.Append(ctx, []bridge.NewRecord{{ID: "r1", Module: "m", SessionID: "s", Data: json.RawMessage(`{}`), ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	wait("another handle's append")
	l, err := a.Lease(ctx, bridge.LeaseParams{Owner: "a", Now: now, TTL: time.Minute, MaxRecords: 1})
	if err != nil || l == nil {
		t.Fatal(l, err)
	}
	if err := a.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: "m", Now: now, Dead: []bridge.DeadMark{{ID: "r1", Reason: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if n, err := a.ReplayDead(ctx, bridge.ReplayParams{IDs: []string{"r1"}, Now: now}); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	wait("another handle's replay")
}
