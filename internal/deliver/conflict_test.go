package deliver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/buckettest"
	"corebridge/internal/bucket/server"
)

// The fault of issue 14, point 6: a record times out at the bridge but the
// Bucket stored it; it goes dead; the operator edits its data and replays
// it. The Bucket already holds the id with the old data, so the edited
// record must not be reported synced: it is dead with a reason that says
// the Bucket holds other data for the id.
func TestEditedReplayOfAStoredRecordIsNotReportedSynced(t *testing.T) {
	ctx := context.Background()
	b := buckettest.Start(t, server.Config{})
	client := bucket.NewClient(b.URL)
	st := newSQLiteStore(t)
	f := New(st, client, discard(), Config{MaxAttempts: 1, Timeout: 300 * time.Millisecond,
		Owner: "test", BucketURL: b.URL})
	id := appendRecs(t, st, bridge.Now(), 0, "edu")[0]
	original := get(t, st, id).Data

	// The Bucket stores the batch and answers after the bridge gave up.
	b.Server.SetFaults(server.Faults{Latency: 5 * time.Second})
	runOnce(t, f)
	if r := get(t, st, id); r.State != bridge.StateDead {
		t.Fatalf("after a timeout with --max-attempts 1: %s (%q), want dead", r.State, r.LastError)
	}
	waitFor(t, "the bucket to hold the timed-out record", 10*time.Second, func() bool {
		held, err := client.Records(ctx, "edu", "", 0)
		return err == nil && len(held) == 1 && held[0].ID == id
	})
	b.Server.SetFaults(server.Faults{})

	edited := json.RawMessage(`{"i":0,"fixed":true}`)
	if err := st.EditDead(ctx, bridge.EditParams{ID: id, Data: edited, Note: "fix", Author: "op", Now: bridge.Now()}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.ReplayDead(ctx, bridge.ReplayParams{IDs: []string{id}, Now: bridge.Now()}); err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	var outcomes []Outcome
	f.cfg.OnOutcome = func(o Outcome) { outcomes = append(outcomes, o) }
	drain(t, f)

	held, err := client.Records(ctx, "edu", "", 0)
	if err != nil || len(held) != 1 {
		t.Fatalf("bucket holds %d records (%v), want the one", len(held), err)
	}
	if string(held[0].Data) != string(original) {
		t.Fatalf("bucket holds %s, want the original %s (it keeps the first content of an id)", held[0].Data, original)
	}
	r := get(t, st, id)
	if r.State == bridge.StateSynced {
		t.Fatalf("the edited record is reported synced, but the bucket holds %s, not %s", held[0].Data, edited)
	}
	if r.State != bridge.StateDead || !strings.Contains(r.LastError, "the Bucket holds different data for this id") {
		t.Errorf("edited record: %s (%q), want dead because the Bucket holds different data for this id", r.State, r.LastError)
	}
	if len(outcomes) != 1 || outcomes[0].Attempt.Outcome != bridge.AttemptRejected || len(outcomes[0].Dead) != 1 ||
		!strings.Contains(outcomes[0].Attempt.Error, "conflict") {
		t.Errorf("outcomes of the replay: %+v, want one rejected attempt whose error names the conflict", outcomes)
	}
}

// A conflict beside other answers: only that record is dead, with the
// conflict's reason; the attempt is partial and its error counts it.
func TestConflictIsDeadOthersSynced(t *testing.T) {
	st, clk := newStore(t), newClock()
	ids := appendRecs(t, st, clk.Now(), 0, "m", "m", "m")
	s := &fakeSender{SendFn: func(_ context.Context, recs []bridge.Record) ([]bucket.Result, error) {
		return []bucket.Result{
			{ID: recs[0].ID, Status: bucket.StatusStored},
			{ID: recs[1].ID, Status: bucket.StatusConflict, Error: "this id is held with other content"},
			{ID: recs[2].ID, Status: bucket.StatusDuplicate},
		}, nil
	}}
	f := newForwarder(st, s, clk, Config{})
	runOnce(t, f)
	for i, want := range []bridge.State{bridge.StateSynced, bridge.StateDead, bridge.StateSynced} {
		if r := get(t, st, ids[i]); r.State != want {
			t.Errorf("%s: %s, want %s", ids[i], r.State, want)
		}
	}
	if r := get(t, st, ids[1]); r.LastError != ConflictReason {
		t.Errorf("conflict's reason %q, want %q", r.LastError, ConflictReason)
	}
	a := attempts(t, st, ids[1])
	if len(a) != 1 || a[0].Outcome != bridge.AttemptPartial || !strings.HasPrefix(a[0].Error, "1 of 3 records dead (1 in conflict): the Bucket holds different data") {
		t.Errorf("attempt %+v, want partial, naming the conflict", a)
	}
	if stats, _ := st.Stats(context.Background()); stats.Dead != 1 || stats.Synced != 2 {
		t.Errorf("stats %+v, want 1 dead and 2 synced", stats)
	}
}
