package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	"corebridge/client"
	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
	"corebridge/internal/store/postgres/pgtest"
)

// runReconcileCmd runs `corebridge reconcile` against base and returns
// its stdout and exit code.
func runReconcileCmd(t *testing.T, base string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	argv := append([]string{"corebridge", "reconcile", "--api-url", base}, args...)
	err := run(context.Background(), argv, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	code := 0
	if err != nil {
		code = exitCode(err)
		errOut.WriteString("corebridge: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), code
}

// reconcileJSON runs `corebridge reconcile --json` and decodes its report.
func reconcileJSON(t *testing.T, base string, args ...string) (client.ReconcileReport, int) {
	t.Helper()
	out, errOut, code := runReconcileCmd(t, base, append([]string{"--json"}, args...)...)
	var rep client.ReconcileReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("reconcile --json: exit %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errOut)
	}
	return rep, code
}

func reconcileHealth(t *testing.T, base string) (status string, reasons []string, rec map[string]any) {
	t.Helper()
	h := getJSON(t, base+"/core/health")
	status, _ = h["status"].(string)
	for _, r := range h["reasons"].([]any) {
		reasons = append(reasons, r.(string))
	}
	rec, _ = h["reconciliation"].(map[string]any)
	return status, reasons, rec
}

// Records delivered, then changed behind the bridge's back in the
// Bucket's database: one deleted, one with other data and hash, one the
// bridge never sent. corebridge reconcile finds each; --repair requeues
// the missing one, which is delivered again.
func TestReconcileEndToEnd(t *testing.T) {
	reconcileEndToEnd(t, "--data-dir", t.TempDir())
}

// The same with the queue in PostgreSQL: ScanIDs, Requeue and the prune
// floor of the PostgreSQL store, through serve.
func TestReconcileEndToEndPostgres(t *testing.T) {
	reconcileEndToEnd(t, "--data-dir", t.TempDir(), "--postgres-url", pgtest.FreshDB(t))
}

func reconcileEndToEnd(t *testing.T, storeArgs ...string) {
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	base, logs, _ := startServeLogs(t, append(storeArgs, "--bucket-url", b.URL)...)

	if rep, code := reconcileJSON(t, base); code != 0 || rep.Totals.Missing != 0 || rep.Unsupported {
		t.Fatalf("reconcile of an empty bridge: exit %d, %+v", code, rep)
	}
	byModule, _ := postRoundRobin(t, base, []string{"finance", "robotics"}, 40)
	waitFor(t, "every record to be synced", 30*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 40
	})
	if rep, code := reconcileJSON(t, base); code != 0 || rep.Totals.SyncedHere != 40 || rep.Totals.HeldThere != 40 || rep.Totals.Missing != 0 {
		t.Fatalf("reconcile of a whole Bucket: exit %d, %+v", code, rep.Totals)
	}

	lost, changed := byModule["finance"][3], byModule["finance"][7]
	db, err := sql.Open("sqlite", "file:"+b.Store.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if res, err := db.Exec(`DELETE FROM records WHERE id = ?`, lost); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("deleted %d rows", n)
	}
	other := sha256.Sum256([]byte("tampered"))
	if _, err := db.Exec(`UPDATE records SET data = ?, hash = ? WHERE id = ?`, `{"i":999}`, other[:], changed); err != nil {
		t.Fatal(err)
	}
	id, _ := uuid.NewV7()
	stranger := bridge.Record{ID: id.String(), Module: "finance", SessionID: "elsewhere", Data: json.RawMessage(`{"from":"elsewhere"}`),
		ReceivedAt: bridge.Now()}
	if res, err := bucket.NewClient(b.URL).Send(context.Background(), []bridge.Record{stranger}); err != nil || res[0].Status != bucket.StatusStored {
		t.Fatalf("POST a stranger to the Bucket: %v %v", res, err)
	}

	// The table, the verdict and the exit code.
	out, errOut, code := runReconcileCmd(t, base)
	if code != 1 || !strings.Contains(out, "NOT OK") || !strings.Contains(out, "1 missing, 1 unexpected, 1 mismatched") ||
		!strings.Contains(out, lost) || !strings.Contains(out, changed) || !strings.Contains(out, stranger.ID) ||
		!strings.Contains(out, "--repair") {
		t.Fatalf("reconcile: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("corebridge reconcile:\n%s", out)
	rep, code := reconcileJSON(t, base, "--module", "finance")
	m := rep.Modules[0]
	if code != 1 || len(rep.Modules) != 1 || m.Module != "finance" || m.Missing != 1 || m.MissingIDs[0] != lost ||
		m.Mismatched != 1 || m.MismatchedIDs[0] != changed || m.Unexpected != 1 || m.UnexpectedIDs[0] != stranger.ID ||
		m.SyncedHere != 20 || m.HeldThere != 20 || m.RoundTrips < 2 {
		t.Fatalf("reconcile --module finance: exit %d, %+v", code, m)
	}
	status, reasons, rec := reconcileHealth(t, base)
	if status != "degraded" || !strings.Contains(strings.Join(reasons, "|"), "corebridge reconcile --repair") ||
		num(rec, "missing") != 1 || num(rec, "mismatched") != 1 || num(rec, "unexpected") != 1 || rec["reconciled_at"] == "" {
		t.Fatalf("health after the finding: %s %v %v", status, reasons, rec)
	}
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"reconciliation: the Bucket does not hold what was delivered`) {
		t.Errorf("no WARN logged for the finding:\n%s", logs)
	}
	if body := getText(t, base+"/metrics"); !strings.Contains(body, `corebridge_reconcile_records{kind="missing"} 1`) ||
		!strings.Contains(body, "corebridge_reconcile_round_trips ") || !strings.Contains(body, "corebridge_reconcile_last_run_timestamp_seconds ") {
		t.Errorf("metrics lack the reconciliation gauges")
	}

	// --repair requeues the missing record; it is delivered again.
	rep, code = reconcileJSON(t, base, "--repair")
	if code != 1 || rep.Totals.Requeued != 1 || !rep.Repair {
		t.Fatalf("reconcile --repair: exit %d, %+v", code, rep.Totals)
	}
	waitFor(t, "the requeued record to be synced again", 30*time.Second, func() bool {
		return getJSON(t, base+"/api/records/"+lost)["state"] == "synced"
	})
	rep, code = reconcileJSON(t, base)
	if code != 1 || rep.Totals.Missing != 0 || rep.Totals.Mismatched != 1 || rep.Totals.Unexpected != 1 {
		t.Fatalf("reconcile after the repair: exit %d, %+v", code, rep.Totals)
	}
	status, reasons, rec = reconcileHealth(t, base)
	if strings.Contains(strings.Join(reasons, "|"), "reconcil") || num(rec, "missing") != 0 {
		t.Fatalf("health after the repair: %s %v %v", status, reasons, rec)
	}
	// The last report, through the API.
	var last struct {
		Report  client.ReconcileReport `json:"report"`
		Running bool                   `json:"running"`
	}
	if err := json.Unmarshal([]byte(getText(t, base+"/api/reconcile")), &last); err != nil || last.Report.Totals.Mismatched != 1 || last.Running {
		t.Fatalf("GET /api/reconcile = %+v, %v", last, err)
	}
}

// A Bucket without the extension (the reference Bucket behind a proxy
// that answers 404 to /v1/reconcile): "unsupported", exit 3, and health
// is not degraded by it.
func TestReconcileUnsupportedBucket(t *testing.T) {
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	target, _ := url.Parse(b.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/reconcile") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"no such route"}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", proxy.URL)
	postRoundRobin(t, base, []string{"finance"}, 5)
	waitFor(t, "every record to be synced", 30*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 5
	})
	out, errOut, code := runReconcileCmd(t, base)
	if code != 3 || !strings.Contains(out, "UNSUPPORTED") ||
		!strings.Contains(out, "this Bucket does not support reconciliation (GET /v1/reconcile answered 404)") {
		t.Fatalf("reconcile against a Bucket without the extension: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	status, reasons, rec := reconcileHealth(t, base)
	if status != "ok" || rec["unsupported"] != true {
		t.Fatalf("health: %s %v %v", status, reasons, rec)
	}
}

// Usage: bad flags exit 2 before anything is asked; the API names a bad
// parameter with 400.
func TestReconcileUsage(t *testing.T) {
	if _, _, code := runReconcileCmd(t, "http://127.0.0.1:1", "--since", "yesterday"); code != 2 {
		t.Fatalf("--since yesterday: exit %d, want 2", code)
	}
	if _, _, code := runReconcileCmd(t, "http://127.0.0.1:1", "extra"); code != 2 {
		t.Fatalf("an argument: exit %d, want 2", code)
	}
	base, _ := startServe(t, "--data-dir", t.TempDir())
	for q, want := range map[string]string{"since=soon": "since", "repair=maybe": "repair", "module=a%20b": "module", "color=red": "color"} {
		resp, err := http.Post(base+"/api/reconcile?"+q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.HasPrefix(body["detail"].(string), want+":") {
			t.Errorf("POST /api/reconcile?%s = %d %v, want 400 naming %s", q, resp.StatusCode, body, want)
		}
	}
}

// serve --reconcile-every: the schedule finds a record the Bucket lost
// (health degraded, WARN), and once it is repaired and delivered, a later
// run finds nothing (INFO, health no longer degraded by it).
func TestReconcileEvery(t *testing.T) {
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	base, logs, _ := startServeLogs(t, "--data-dir", t.TempDir(), "--bucket-url", b.URL, "--reconcile-every", "100ms")
	byModule, _ := postRoundRobin(t, base, []string{"finance"}, 5)
	waitFor(t, "every record to be synced", 30*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 5
	})
	db, err := sql.Open("sqlite", "file:"+b.Store.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM records WHERE id = ?`, byModule["finance"][2]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a scheduled run to find the lost record", 30*time.Second, func() bool {
		status, _, rec := reconcileHealth(t, base)
		return status == "degraded" && num(rec, "missing") == 1
	})
	// A scheduled run may be going: 409 until it is done.
	c := client.New(base)
	waitFor(t, "a repair to run", 30*time.Second, func() bool {
		rep, err := c.Reconcile(context.Background(), client.ReconcileOptions{Repair: true}, nil)
		var ae *client.APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusConflict {
			return false
		}
		if err != nil || rep.Totals.Requeued != 1 {
			t.Fatalf("repair: %+v, %v", rep.Totals, err)
		}
		return true
	})
	waitFor(t, "a scheduled run to find nothing missing", 30*time.Second, func() bool {
		_, _, rec := reconcileHealth(t, base)
		return num(rec, "missing") == 0
	})
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"reconciliation: the Bucket does not hold`) ||
		!strings.Contains(logs.String(), `"level":"INFO","msg":"reconciliation: the Bucket holds everything delivered again"`) {
		t.Fatalf("logs lack the WARN and the INFO after it:\n%s", logs)
	}
}
