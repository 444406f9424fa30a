package postgres_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/store/postgres"
	"corebridge/internal/store/postgres/pgtest"

	"github.com/jackc/pgx/v5"
)

// TestVerifyFindsRowsChangedBehindItsBack: rows changed or deleted with
// plain SQL (as psql would) break the chain, and Verify names the record
// or, for a module's last record, the module.
func TestVerifyFindsRowsChangedBehindItsBack(t *testing.T) {
	db := pgtest.FreshDB(t)
	ctx := t.Context()
	st, err := postgres.Open(ctx, db, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	var recs []bridge.NewRecord
	for i := range 6 {
		recs = append(recs, bridge.NewRecord{ID: fmt.Sprintf("r%d", i), Module: "m", SessionID: "s",
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), ReceivedAt: at.Add(time.Duration(i) * time.Second)})
	}
	if _, err := st.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	verify := func() bridge.VerifyReport {
		t.Helper()
		rep, err := st.Verify(ctx, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := verify(); len(rep.Breaks) != 0 || rep.Records != 6 {
		t.Fatalf("untouched: %+v", rep)
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(q string) {
		t.Helper()
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`UPDATE records SET data = '{"i":99}' WHERE id = 'r2'`)
	if rep := verify(); len(rep.Breaks) != 1 || rep.Breaks[0].RecordID != "r2" || !strings.Contains(rep.Breaks[0].Reason, "does not match its hash") {
		t.Fatalf("after an UPDATE of r2: %+v", rep.Breaks)
	}
	exec(`UPDATE records SET data = '{"i":2}' WHERE id = 'r2'`)
	exec(`DELETE FROM records WHERE id = 'r3'`)
	if rep := verify(); len(rep.Breaks) != 1 || rep.Breaks[0].RecordID != "r4" || !strings.Contains(rep.Breaks[0].Reason, "chained before it is missing") {
		t.Fatalf("after a DELETE of r3: %+v", rep.Breaks)
	}
	exec(`DELETE FROM records WHERE id IN ('r4', 'r5')`)
	if rep := verify(); len(rep.Breaks) != 1 || rep.Breaks[0].RecordID != "" || !strings.Contains(rep.Breaks[0].Reason, "last record(s) are missing") {
		t.Fatalf("after deleting the module's last records: %+v", rep.Breaks)
	}
}
