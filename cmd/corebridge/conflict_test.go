package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
)

// Issue 14, point 6, end to end: a record the Bucket stored while the
// bridge timed out is dead; the operator edits its data and replays it
// through the routes. The Bucket holds the old data, so the record must
// end dead with the conflict's reason, never synced.
func TestEditedReplayOfAStoredRecordEndsDeadWithTheConflict(t *testing.T) {
	t.Parallel()
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(),
		Faults: server.Faults{Latency: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", b.URL,
		"--delivery-timeout", "300ms", "--max-attempts", "1")

	code, out := postJSON(t, base+"/core/update", `{"module":"finance","session_id":"s-1","data":{"amount":10}}`)
	id, _ := out["record_id"].(string)
	if code != 200 || id == "" {
		t.Fatalf("update: %d %v", code, out)
	}
	waitFor(t, "the timed-out record to be dead", 30*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "dead_count") == 1
	})
	client := bucket.NewClient(b.URL)
	waitFor(t, "the bucket to hold it all the same", 15*time.Second, func() bool {
		held, err := client.Records(context.Background(), "finance", "", 0)
		return err == nil && len(held) == 1 && held[0].ID == id
	})
	b.Server.SetFaults(server.Faults{})

	req, _ := http.NewRequest(http.MethodPut, base+"/api/dead-letters/"+id+"/data",
		strings.NewReader(`{"data":{"amount":100},"note":"typo"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("edit: %v %v", resp, err)
	}
	resp.Body.Close()
	if code, out := postJSON(t, base+"/api/dead-letters/replay", `{"ids":["`+id+`"]}`); code != 200 || num(out, "replayed") != 1 {
		t.Fatalf("replay: %d %v", code, out)
	}
	var rec map[string]any
	waitFor(t, "the replay to be settled", 30*time.Second, func() bool {
		rec = getJSON(t, base+"/api/records/"+id)
		return rec["state"] != "pending"
	})
	raw, _ := json.Marshal(rec)
	held, err := client.Records(context.Background(), "finance", "", 0)
	if err != nil || len(held) != 1 || string(held[0].Data) != `{"amount":10}` {
		t.Fatalf("bucket holds %+v (%v), want the original data", held, err)
	}
	if rec["state"] != "dead" || !strings.Contains(rec["last_error"].(string), "the Bucket holds different data for this id") {
		t.Errorf("edited record after replay: %s, want dead because the Bucket holds different data for this id", raw)
	}
	if st := getJSON(t, base+"/bucket/status"); num(st, "total_sync_count") != 0 || num(st, "dead_count") != 1 {
		t.Errorf("bucket status %v: the edited record was counted synced, but the bucket holds the old data (record: %s)", st, raw)
	}
	letters := getJSON(t, base+"/api/dead-letters?module=finance")["dead_letters"].([]any)
	if len(letters) != 1 || !strings.Contains(letters[0].(map[string]any)["reason"].(string), "the Bucket holds different data for this id") {
		t.Errorf("dead letters %v, want the record with the conflict's reason", letters)
	}
}
