package main

import (
	"os"
	"testing"
	"time"
)

// The audit log of a real serve: an operator's purge, and a reload of the
// auth file (by the system, with the tokens it left in use), read back
// from GET /api/audit newest first.
func TestServeAuditLog(t *testing.T) {
	path := writeAuthFile(t)
	base, logs, _ := startServeLogs(t, "--data-dir", t.TempDir(), "--auth-file", path)
	if got := call(t, "POST", base+"/api/dead-letters/purge", testSecrets["operator"], `{"module":"education"}`); got != 200 {
		t.Fatalf("purge: %d", got)
	}
	if err := os.WriteFile(path+".new", []byte(mustRead(t, writeAuthFile(t, "producer-edu"))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		es, _ := getWith(t, base+"/api/audit", testSecrets["viewer"])["entries"].([]any)
		if len(es) >= 2 {
			reload, purge := es[0].(map[string]any), es[len(es)-1].(map[string]any)
			if reload["action"] != "tokens_reloaded" || reload["actor"] != "system" || reload["target"] != "file changed" ||
				reload["records"] != 3.0 || reload["detail"] != nil {
				t.Errorf("newest entry %v, want the reload by system with 3 tokens", reload)
			}
			if purge["action"] != "purge" || purge["actor"] != "operator" || purge["role"] != "operator" ||
				purge["target"] != "module: education" || purge["records"] != 0.0 {
				t.Errorf("oldest entry %v, want the operator's purge", purge)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit log after 15 s: %v\nlogs:\n%s", es, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
