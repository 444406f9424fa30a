package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket/server"
)

// TestBucketAuthWrongTokenHoldsThenDrains: serve delivers to a reference
// Bucket that requires a token. With a wrong token nothing is
// dead-lettered, no record burns an attempt and health says degraded,
// naming the credentials; once the token file holds the right token,
// everything drains, exactly once and in order per module, and no log line
// shows either token.
func TestBucketAuthWrongTokenHoldsThenDrains(t *testing.T) {
	t.Parallel()
	const good, wrong = "bucket-secret-good-7f3a", "bucket-secret-wrong-91c2"
	dir := t.TempDir()
	b, err := server.Start(context.Background(), server.Config{DataDir: filepath.Join(dir, "bucket"), Tokens: []string{good}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	tokenFile := filepath.Join(dir, "bucket.token")
	if err := os.WriteFile(tokenFile, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, logs, _ := startServeLogs(t, "--data-dir", filepath.Join(dir, "data"), "--bucket-url", b.URL,
		"--bucket-token-file", tokenFile, "--breaker-cooldown", "500ms", "--max-attempts", "2")

	want, ids := postRoundRobin(t, base, modules4, 20)

	var h map[string]any
	waitFor(t, "health to say degraded naming the credentials", 10*time.Second, func() bool {
		h = getJSON(t, base+"/core/health")
		return h["status"] == "degraded" && strings.Contains(fmt.Sprint(h["reasons"]), "credentials")
	})
	// Several probe and trial rounds (cooldown 500 ms, --max-attempts 2):
	// still nothing burns an attempt or dies.
	time.Sleep(2 * time.Second)
	h = getJSON(t, base+"/core/health")
	if num(h, "dead_count") != 0 || num(h, "pending_queue") != 20 || h["breaker"] != "open" && h["breaker"] != "half-open" {
		t.Fatalf("with a wrong token: dead %v, pending %v, breaker %v; want 0, 20, open", h["dead_count"], h["pending_queue"], h["breaker"])
	}
	if !strings.Contains(fmt.Sprint(h["last_delivery_error"]), "bucket refused our credentials (401)") {
		t.Errorf("last delivery error %q does not name the credentials", h["last_delivery_error"])
	}
	if dl := getJSON(t, base+"/api/dead-letters"); len(dl["dead_letters"].([]any)) != 0 {
		t.Fatalf("dead letters: %v", dl["dead_letters"])
	}
	for _, id := range ids {
		if r := getJSON(t, base+"/api/records/"+id); num(r, "attempts") != 0 || r["state"] != "pending" {
			t.Fatalf("%s: state %v, attempts %v; want pending with 0", id, r["state"], r["attempts"])
		}
	}
	if st, err := b.Store.Stats(context.Background()); err != nil || st.Total != 0 {
		t.Fatalf("the bucket stored something without a good token: %+v %v", st, err)
	}

	// Fix the secret: the file is re-read, and everything drains.
	if err := os.WriteFile(tokenFile, []byte(good+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "everything to drain", 15*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 20
	})
	waitFor(t, "health to say ok", 10*time.Second, func() bool { return getJSON(t, base+"/core/health")["status"] == "ok" })
	for m, wantIDs := range want {
		recs, err := b.Store.List(context.Background(), m, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("module %s: bucket holds %v, want %v", m, got, wantIDs)
		}
	}
	for _, secret := range []string{good, wrong} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a log line shows the token %q", secret)
		}
	}
}
