package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/store/postgres"
	"corebridge/internal/store/postgres/pgtest"
	"corebridge/internal/store/sqlite"
)

// runCmd runs corebridge with args and returns its stdout and error.
func runCmd(args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"corebridge"}, args...), func(string) string { return "" }, strings.NewReader(""), &out, io.Discard)
	return out.String(), err
}

// TestMigrateSQLiteToPostgres: pending and dead records move with their
// attempts and errors, in order; recently synced ones move so that a
// resend is still a duplicate; counters match. A store a serve holds, and
// a database that holds records, are refused.
func TestMigrateSQLiteToPostgres(t *testing.T) {
	db := pgtest.FreshDB(t)
	path := filepath.Join(t.TempDir(), "corebridge.db")
	src, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := bridge.Now()
	var recs []bridge.NewRecord
	for i := range 9 {
		m := []string{"edu", "fin", "art"}[i%3]
		recs = append(recs, bridge.NewRecord{ID: fmt.Sprint("r", i), Module: m, SessionID: fmt.Sprint("s", i),
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), ReceivedAt: now, DedupeKey: fmt.Sprint("k", i)})
	}
	if _, err := src.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// edu: r0 synced, r3 dead; fin: r1 retried (twice: due again at once); art untouched.
	for range 3 {
		l, err := src.Lease(ctx, bridge.LeaseParams{Owner: "t", Now: now, TTL: time.Minute, MaxRecords: 1})
		if err != nil || l == nil {
			t.Fatal(l, err)
		}
		st := bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: now}
		switch l.Module {
		case "edu":
			st.Synced = []string{l.Records[0].ID}
		case "fin":
			st.Retry, st.RetryAt, st.Error = []string{l.Records[0].ID}, now, "bucket: 503"
		}
		if err := src.Settle(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	// Hold the other modules' leases until edu's comes.
	l, _ := src.Lease(ctx, bridge.LeaseParams{Owner: "t", Now: now, TTL: time.Minute, MaxRecords: 1})
	for l != nil && l.Module != "edu" {
		l, _ = src.Lease(ctx, bridge.LeaseParams{Owner: "t", Now: now, TTL: time.Minute, MaxRecords: 1})
	}
	if l == nil {
		t.Fatal("edu was not leased")
	}
	if err := src.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: "edu", Now: now, Dead: []bridge.DeadMark{{ID: l.Records[0].ID, Reason: "rejected"}}}); err != nil {
		t.Fatal(err)
	}
	src.ReleaseLeases(ctx, "t")
	want, _ := src.Stats(ctx)

	if _, err := runCmd("migrate", "--from", "sqlite:"+path, "--to", db); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("migrate while the store is held: %v; want a refusal naming it in use", err)
	}
	src.Close()
	out, err := runCmd("migrate", "--from", "sqlite:"+path, "--to", db)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "moved 7 pending, 1 dead and 1 recently synced records") {
		t.Errorf("migrate said:\n%s", out)
	}
	dst, err := postgres.Open(ctx, db, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	got, _ := dst.Stats(ctx)
	if got.Pending != want.Pending || got.Dead != want.Dead || got.Received != want.Received || got.Synced != want.Synced {
		t.Errorf("stats after migrate %+v, before %+v", got, want)
	}
	dead, _ := dst.Get(ctx, "r3")
	if dead.State != bridge.StateDead || dead.LastError != "rejected" || dead.Attempts != 1 {
		t.Errorf("dead letter after migrate: %+v", dead)
	}
	fin, _ := dst.Get(ctx, "r1")
	if fin.State != bridge.StatePending || fin.Attempts != 2 || fin.LastError != "bucket: 503" {
		t.Errorf("retried record after migrate: %+v", fin)
	}
	// The synced record's key still answers a resend; its content too.
	a, err := dst.Append(ctx, []bridge.NewRecord{{ID: "new", Module: "edu", SessionID: "s0", Data: json.RawMessage(`{"i":0}`),
		ReceivedAt: bridge.Now(), DedupeKey: "k0"}})
	if err != nil || !a[0].Duplicate || a[0].ID != "r0" {
		t.Errorf("resend of a synced record after migrate: %+v, %v; want a duplicate of r0", a, err)
	}
	// Each module's pending records come out in their old order.
	var order []string
	for {
		l, err := dst.Lease(ctx, bridge.LeaseParams{Owner: "t", Now: bridge.Now(), TTL: time.Minute, MaxRecords: 10})
		if err != nil || l == nil {
			break
		}
		order = append(order, ids(l.Records)...)
		dst.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: l.Module, Now: bridge.Now(), Synced: ids(l.Records)})
	}
	slices.Sort(order)
	if !slices.Equal(order, []string{"r1", "r2", "r4", "r5", "r6", "r7", "r8"}) {
		t.Errorf("delivered after migrate: %v", order)
	}
	if _, err := runCmd("migrate", "--from", "sqlite:"+path, "--to", db); err == nil || !strings.Contains(err.Error(), "already holds records") {
		t.Errorf("a second migrate into the same database: %v; want a refusal", err)
	}
}

func ids(rs []bridge.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
