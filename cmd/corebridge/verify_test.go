package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sqlite3CLI is the sqlite3 command-line shell, with which the tests
// change a store behind corebridge's back. Without it they skip, unless
// COREBRIDGE_REQUIRE_SQLITE3=1 (CI) makes that a failure.
func sqlite3CLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("COREBRIDGE_REQUIRE_SQLITE3") == "1" {
			t.Fatal("the sqlite3 CLI is required (COREBRIDGE_REQUIRE_SQLITE3=1) but not installed")
		}
		t.Skip("the sqlite3 CLI is not installed (apt-get install sqlite3)")
	}
	return p
}

func sqlite3Exec(t *testing.T, cli, db, sql string) string {
	t.Helper()
	out, err := exec.Command(cli, db, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s: %v: %s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// runVerifyCmd runs `corebridge verify` and returns its output and error.
func runVerifyCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, append([]string{"corebridge", "verify"}, args...), func(string) string { return "" }, strings.NewReader(""), &out, io.Discard)
	return out.String(), err
}

// TestVerifyFindsRowsChangedBehindItsBack: a store written by a serve
// verifies whole while the serve runs; a row edited with the sqlite3 CLI
// is named; put back, the chain is whole again; a row deleted names the
// record after it, and a module's last row deleted names the module.
func TestVerifyFindsRowsChangedBehindItsBack(t *testing.T) {
	cli := sqlite3CLI(t)
	dir := t.TempDir()
	base, stop := startServe(t, "--data-dir", dir)
	_, ids := postRoundRobin(t, base, []string{"alpha", "beta"}, 20)
	waitFor(t, "every record to sync", 20*time.Second, func() bool {
		return getJSON(t, base+"/bucket/status")["total_sync_count"].(float64) == 20
	})
	out, err := runVerifyCmd(t, "--data-dir", dir)
	if err != nil || !strings.Contains(out, "checked:  20 records in 2 modules") || !strings.Contains(out, "the chain is whole") {
		t.Fatalf("verify while serve runs: %v\n%s", err, out)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "corebridge.db")

	// ids alternate alpha, beta: ids[4] is alpha's third record.
	victim := ids[4]
	orig := sqlite3Exec(t, cli, db, "SELECT data FROM records WHERE id = '"+victim+"'")
	sqlite3Exec(t, cli, db, `UPDATE records SET data = '{"i":999}' WHERE id = '`+victim+`'`)
	out, err = runVerifyCmd(t, "--data-dir", dir)
	if err != errChainBroken || !strings.Contains(out, "BROKEN in 1 module(s)") ||
		!strings.Contains(out, "record "+victim) || !strings.Contains(out, "does not match its hash") {
		t.Fatalf("verify after editing %s with sqlite3: %v\n%s", victim, err, out)
	}
	sqlite3Exec(t, cli, db, `UPDATE records SET data = '`+orig+`' WHERE id = '`+victim+`'`)
	if out, err = runVerifyCmd(t, "--data-dir", dir); err != nil {
		t.Fatalf("verify after putting the row back: %v\n%s", err, out)
	}

	// A deleted row: the record chained after it is named.
	sqlite3Exec(t, cli, db, "DELETE FROM records WHERE id = '"+victim+"'")
	out, err = runVerifyCmd(t, "--data-dir", dir, "--module", "alpha")
	if err != errChainBroken || !strings.Contains(out, "record "+ids[6]) || !strings.Contains(out, "chained before it is missing") {
		t.Fatalf("verify after deleting %s: %v\n%s", victim, err, out)
	}
	if out, err = runVerifyCmd(t, "--data-dir", dir, "--module", "beta"); err != nil {
		t.Fatalf("beta is untouched, yet: %v\n%s", err, out)
	}
	// beta's last row deleted: nothing follows it, the module's head
	// names the loss.
	sqlite3Exec(t, cli, db, "DELETE FROM records WHERE id = '"+ids[19]+"'")
	out, err = runVerifyCmd(t, "--data-dir", dir, "--module", "beta")
	if err != errChainBroken || !strings.Contains(out, "module beta: its last record(s) are missing") {
		t.Fatalf("verify after deleting beta's last record: %v\n%s", err, out)
	}
}
