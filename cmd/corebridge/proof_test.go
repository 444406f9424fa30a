package main

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket/server"
)

// proofDrillReport is a drill's report as `corebridge drill --report json`
// prints it (the fields the panel reads, and one skipped fault).
const proofDrillReport = `{"passed":true,"run":"20261208T090000-test","started":"2026-12-08T09:00:00Z","seconds":60.2,
"store":"sqlite","acknowledged":7768,"held":7768,"lost_count":0,"duplicated_count":0,"order_violation_count":0,
"faults":[{"name":"kill-9 bridge","recovered":true,"time_to_recover_ms":150},
{"name":"bucket stopped","recovered":true,"time_to_recover_ms":1578},
{"name":"disk full","skipped":true,"skip_reason":"not root"}],"problems":[]}`

// TestDashboardProofPanel: the Proof panel says, in plain words, what
// the last reconciliation found (per module) and what the last drill
// published here found, and turns to "Missing" when the Bucket lost a
// record behind the bridge's back.
func TestDashboardProofPanel(t *testing.T) {
	b := newBrowser(t, 1280, 1000)
	bk, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bk.Stop(context.Background()) })
	dir := t.TempDir()
	base, _ := startServe(t, "--data-dir", dir, "--bucket-url", bk.URL)

	b.open(base)
	b.waitJS("the panel says nothing was checked", 5*time.Second,
		`document.getElementById('proof-badge').textContent === 'Not checked' && document.getElementById('drill-badge').textContent === 'None'`)

	byModule, _ := postRoundRobin(t, base, []string{"education", "finance"}, 12)
	waitFor(t, "12 records synced", 20*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 12
	})
	if _, code := reconcileJSON(t, base); code != 0 {
		t.Fatalf("reconcile: exit %d", code)
	}
	resp, err := http.Post(base+"/api/drill", "application/json", strings.NewReader(proofDrillReport))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /api/drill: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, _ = http.Post(base+"/api/drill", "application/json", strings.NewReader(`{"passed":true}`))
	if resp.StatusCode != 400 {
		t.Fatalf("POST /api/drill without the report's fields: %d, want 400", resp.StatusCode)
	}
	resp.Body.Close()

	b.open(base)
	b.waitJS("the verdict: proven", 5*time.Second, `document.getElementById('proof-badge').textContent === 'Proven'`)
	if words := eval[string](b, `document.getElementById('proof-words').textContent`); !strings.Contains(words, "every one of the 12 records") {
		t.Errorf("proof words %q", words)
	}
	if n := eval[int](b, `document.querySelectorAll('#proof-rows tr[data-module]').length`); n != 2 {
		t.Errorf("proof table has %d module rows, want 2", n)
	}
	b.waitJS("the drill: passed", 5*time.Second, `document.getElementById('drill-badge').textContent === 'Passed'`)
	faults := eval[string](b, `Array.from(document.querySelectorAll('#drill-faults li')).map(li => li.textContent).join('|')`)
	for _, want := range []string{"kill-9 bridge: recovered in 150 ms", "bucket stopped: recovered in", "disk full: skipped (not root)"} {
		if !strings.Contains(faults, want) {
			t.Errorf("drill faults %q lack %q", faults, want)
		}
	}

	// The Bucket loses a record behind the bridge's back.
	db, err := sql.Open("sqlite", "file:"+bk.Store.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM records WHERE id = ?`, byModule["finance"][2]); err != nil {
		t.Fatal(err)
	}
	if _, code := reconcileJSON(t, base); code != 1 {
		t.Fatalf("reconcile after a deletion: exit %d, want 1", code)
	}
	b.open(base)
	b.waitJS("the verdict: missing", 5*time.Second, `document.getElementById('proof-badge').textContent === 'Missing'`)
	// The page's status is health's: degraded, saying why.
	b.waitJS("the status: degraded", 5*time.Second, `document.getElementById('status').dataset.status === 'degraded' &&
		/not hold|missing/i.test(document.getElementById('status-reasons').textContent)`)
	if words := eval[string](b, `document.getElementById('proof-words').textContent`); !strings.Contains(words, "1 record(s) synced here are not in the Bucket") ||
		!strings.Contains(words, "--repair") {
		t.Errorf("proof words after a loss %q", words)
	}
	if bad := eval[string](b, `document.querySelector('#proof-rows tr[data-module="finance"] td[data-bad="true"]')?.textContent || ''`); bad != "1" {
		t.Errorf("finance's missing cell %q, want 1 marked bad", bad)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the page reported %d problems:\n%s", len(p), strings.Join(p, "\n"))
	}
	b.screenshot("proof")
}
