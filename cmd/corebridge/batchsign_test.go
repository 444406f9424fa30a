package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket"
	"corebridge/internal/logtest"
	"corebridge/internal/webhook"
)

// TestBucketSigningWrongSecretHoldsThenDrains: serve delivers to a
// reference Bucket (`corebridge bucket` through run()) that requires a
// token and verifies signatures. With the right token but a wrong signing
// secret nothing is dead-lettered, no record burns an attempt, the Bucket
// holds nothing and health says degraded naming the signing secret file;
// once the file holds the old and the right secret (a rotation), it is
// re-read and everything drains, exactly once and in order per module. No
// log line of serve or the Bucket shows a secret or the token.
func TestBucketSigningWrongSecretHoldsThenDrains(t *testing.T) {
	t.Parallel()
	const token = "bucket-token-sign-5d21"
	good, wrong := webhook.NewSecret(), webhook.NewSecret()
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bucketTokens := write("bucket.tokens", token+"\n")
	verify := write("bucket.verify", good+"\n")
	tokenFile := write("serve.token", token+"\n")
	signFile := write("serve.sign", wrong+"\n")

	addr, bucketLogs := startTLSCommand(t, "bucket", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "bucket"),
		"--log-format", "json", "--require-token-file", bucketTokens, "--verify-secret-file", verify)
	bucketURL := "http://" + addr
	reader := bucket.NewClient(bucketURL, bucket.WithHeaders(func() http.Header {
		return http.Header{"Authorization": {"Bearer " + token}}
	}))
	base, logs, _ := startServeLogs(t, "--data-dir", filepath.Join(dir, "data"), "--bucket-url", bucketURL,
		"--bucket-token-file", tokenFile, "--bucket-signing-secret-file", signFile,
		"--breaker-cooldown", "500ms", "--max-attempts", "2")

	modules := []string{"education", "finance"}
	want, ids := postRoundRobin(t, base, modules, 20)

	var h map[string]any
	waitFor(t, "health to say degraded naming the signing secret file", 10*time.Second, func() bool {
		h = getJSON(t, base+"/core/health")
		r := fmt.Sprint(h["reasons"])
		return h["status"] == "degraded" && strings.Contains(r, "bucket refuses our credentials") &&
			strings.Contains(r, "--bucket-signing-secret-file")
	})
	// Several probe and trial rounds (cooldown 500 ms, --max-attempts 2):
	// still nothing burns an attempt or dies.
	time.Sleep(2 * time.Second)
	h = getJSON(t, base+"/core/health")
	if num(h, "dead_count") != 0 || num(h, "pending_queue") != 20 || h["breaker"] != "open" && h["breaker"] != "half-open" {
		t.Fatalf("with a wrong secret: dead %v, pending %v, breaker %v; want 0, 20, open", h["dead_count"], h["pending_queue"], h["breaker"])
	}
	if e := fmt.Sprint(h["last_delivery_error"]); !strings.Contains(e, "bucket refused our credentials (401)") ||
		!strings.Contains(e, "no signature matches a secret of this bucket") {
		t.Errorf("last delivery error %q does not name the signature", e)
	}
	if dl := getJSON(t, base+"/api/dead-letters"); len(dl["dead_letters"].([]any)) != 0 {
		t.Fatalf("dead letters: %v", dl["dead_letters"])
	}
	for _, id := range ids {
		if r := getJSON(t, base+"/api/records/"+id); num(r, "attempts") != 0 || r["state"] != "pending" {
			t.Fatalf("%s: state %v, attempts %v; want pending with 0", id, r["state"], r["attempts"])
		}
	}
	if st, err := reader.Stats(context.Background()); err != nil || st.Total != 0 {
		t.Fatalf("the bucket stored something without a good signature: %+v %v", st, err)
	}

	// Fix the secret as a rotation would: the old and the new one, on two
	// lines. The file is re-read and everything drains.
	write("serve.sign", wrong+"\n"+good+"\n")
	waitFor(t, "everything to drain", 15*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 20
	})
	waitFor(t, "health to say ok", 10*time.Second, func() bool { return getJSON(t, base+"/core/health")["status"] == "ok" })
	if h := getJSON(t, base+"/core/health"); num(h, "dead_count") != 0 {
		t.Errorf("dead_count %v after the drain", h["dead_count"])
	}
	for m, wantIDs := range want {
		recs, err := reader.Records(context.Background(), m, "", 1000)
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
	if st, err := reader.Stats(context.Background()); err != nil || st.Total != 20 {
		t.Errorf("the bucket holds %+v (%v), want 20 records", st, err)
	}
	for _, secret := range []string{good, wrong, token, strings.TrimPrefix(good, "whsec_"), strings.TrimPrefix(wrong, "whsec_")} {
		if strings.Contains(logs.String(), secret) || strings.Contains(bucketLogs.String(), secret) {
			t.Errorf("a log line shows a secret or the token")
		}
	}
}

// TestBucketSigningBadFiles: a signing or verify secret file that is
// missing, empty or invalid at start is a usage error naming the flag,
// never the file's content.
func TestBucketSigningBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(empty, []byte("\n# none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("whsec_c2VjcmV0LXZhbHVlLXRoYXQtaXMtc2hvcnQ=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{filepath.Join(dir, "missing"), empty, bad} {
		for _, argv := range [][]string{
			append(append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}, insightLogFlags(t)...),
				"--bucket-url", "http://127.0.0.1:1", "--bucket-signing-secret-file", file),
			{"bucket", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "bucket"), "--verify-secret-file", file},
		} {
			var stderr logtest.Buffer
			err := run(context.Background(), append([]string{"corebridge"}, argv...), func(string) string { return "" }, strings.NewReader(""), &stderr, &stderr)
			flag := argv[len(argv)-2]
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), flag) {
				t.Errorf("%s with %s: %v, want a usage error naming %s", argv[0], filepath.Base(file), err, flag)
				continue
			}
			if strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(stderr.String(), "c2VjcmV0") {
				t.Errorf("%s with %s: the error shows the content: %v", argv[0], filepath.Base(file), err)
			}
		}
	}
}
