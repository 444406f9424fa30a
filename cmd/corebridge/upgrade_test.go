package main

import (
	"strings"
	"testing"
)

// TestServeLogsMigrations: a fresh store logs each migration it applies,
// the bridge's and the embedded Bucket's, at INFO; a second start applies
// none.
func TestServeLogsMigrations(t *testing.T) {
	dir := t.TempDir()
	_, logs, stop := startServeLogs(t, "--data-dir", dir)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, m := range []string{"0001_init.sql", "0011_chain.sql", "0003_chain_reconcile.sql"} {
		if !strings.Contains(out, `"level":"INFO","msg":"applied migration`) || !strings.Contains(out, m) {
			t.Errorf("no INFO line for migration %s:\n%s", m, out)
		}
	}
	_, logs, stop = startServeLogs(t, "--data-dir", dir)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "applied migration") {
		t.Errorf("a second start applied migrations again:\n%s", logs)
	}
}
