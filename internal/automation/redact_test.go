package automation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An http_request's secret headers and URL password reach the server but
// never a report file or runner.log.
func TestReportsRedactSecrets(t *testing.T) {
	f := newFakeBridge(t)
	var got http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer other.Close()
	hook := strings.Replace(other.URL, "http://", "http://hookuser:url-pass-55@", 1) + "/hook"
	dir := filepath.Join(t.TempDir(), "reports")
	cfg := mustParse(t, `{"jobs":[{"name":"hook","actions":[
	  {"type":"http_request","data":{"method":"POST","url":"`+hook+`","headers":{
	    "Authorization":"Bearer hook-secret-11","Cookie":"sid=cookie-secret-22","X-Api-Key":"key-secret-33",
	    "X-Webhook-Signature":"sig-secret-44","X-Source":"corebridge"},"body":{"event":"synced"},"expectStatus":202}}]}]}`)
	r := New(cfg, Options{APIURL: f.URL, ReportsDir: dir, Token: "runner-token-66", Clock: newFakeClock(t0)})
	rep, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer hook-secret-11" || got.Get("X-Api-Key") != "key-secret-33" {
		t.Fatalf("the server did not get the headers: %v", got)
	}
	report, err := os.ReadFile(rep.File)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), `"X-Source":"corebridge"`) || !strings.Contains(string(report), `"Authorization":"[redacted]"`) {
		t.Errorf("report does not show the headers redacted:\n%s", report)
	}
	var all strings.Builder
	all.Write(report)
	for _, name := range []string{runnerLog, dailyLogName} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		all.Write(b)
	}
	for _, secret := range []string{"hook-secret-11", "cookie-secret-22", "key-secret-33", "sig-secret-44", "url-pass-55", "runner-token-66"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("a report or log shows %q", secret)
		}
	}
}

func TestSecretHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "proxy-authorization": true, "Cookie": true, "X-Api-Key": true, "X-Auth-Token": true,
		"Webhook-Signature": true, "X-Client-Secret": true, "X-Source": false, "Content-Type": false, "Idempotency-Key": false,
	} {
		if secretHeader(name) != want {
			t.Errorf("secretHeader(%q) = %v, want %v", name, !want, want)
		}
	}
}
