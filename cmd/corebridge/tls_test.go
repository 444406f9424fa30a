package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket"
	"corebridge/internal/logtest"
	"corebridge/internal/tlsconf"
	"corebridge/internal/tlsconf/tlstest"
)

// startTLSCommand runs `corebridge <argv...>` through run() and returns the
// address it logged and its logs; it is stopped when the test ends.
func startTLSCommand(t *testing.T, argv ...string) (string, *logtest.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logtest.Buffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"corebridge"}, argv...), func(string) string { return "" }, strings.NewReader(""), io.Discard, logs)
	}()
	addr := waitListening(t, logs, errc)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("%s: %v", argv[0], err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30 s", argv[0])
		}
	})
	return addr, logs
}

// tlsClient trusts pool and, if cert is not nil, presents it.
func tlsClient(pool *x509.CertPool, cert *tlstest.Pair, t *testing.T) *http.Client {
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		// Presented whatever CAs the server asks for, as curl --cert does.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

// do sends a request with hc and an optional bearer token: the status, or
// the error of a request that got no answer.
func doWith(hc *http.Client, method, url, token, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Producers → serve → Bucket over TLS, with certificates made here: a
// producer with a bearer token and one known only by its client
// certificate both get 200 and their records reach the Bucket; a client
// certificate of an unknown CA fails the handshake; plain HTTP to the TLS
// port gets no API answer.
func TestTLSEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "corebridge test CA")
	unknown := tlstest.NewCA(t, "unknown CA")
	caFile := filepath.Join(dir, "ca.pem")
	tlstest.WriteFile(t, caFile, ca.PEM)
	bucketCert, bucketKey := ca.Server(t, "bucket").Write(t, dir, "bucket")
	serveCert, serveKey := ca.Server(t, "bridge").Write(t, dir, "bridge")
	pool, err := tlsconf.LoadPool(caFile)
	if err != nil {
		t.Fatal(err)
	}

	bucketAddr, bucketLogs := startTLSCommand(t, "bucket", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json",
		"--tls-cert", bucketCert, "--tls-key", bucketKey)
	if !strings.Contains(bucketLogs.String(), `"url":"https://`+bucketAddr+`","tls":true`) {
		t.Errorf("bucket's listening line does not say https and tls:\n%s", bucketLogs)
	}
	bucketURL := "https://" + bucketAddr
	addr, logs := startTLSCommand(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json",
		"--tls-cert", serveCert, "--tls-key", serveKey, "--client-ca", caFile, "--auth-file", writeAuthFile(t),
		"--bucket-url", bucketURL, "--bucket-ca", caFile, "--breaker-cooldown", "100ms"}, insightLogFlags(t)...)...)
	if !strings.Contains(logs.String(), `"url":"https://`+addr+`"`) || !strings.Contains(logs.String(), `"tls":true`) {
		t.Errorf("serve's listening line does not say https and tls:\n%s", logs)
	}
	base := "https://" + addr
	hc := tlsClient(pool, nil, t)

	// A producer with a bearer token and no certificate.
	if st, body, err := doWith(hc, "POST", base+"/core/update", testSecrets["producer-edu"], `{"module":"education","data":{"by":"token"}}`); err != nil || st != 200 {
		t.Fatalf("producer with a token over TLS: %d %s %v", st, body, err)
	}
	// A producer known by its certificate only (CN = a producer token's name).
	byCert := ca.Client(t, "producer-any")
	if st, body, err := doWith(tlsClient(pool, &byCert, t), "POST", base+"/core/update", "", `{"module":"finance","data":{"by":"certificate"}}`); err != nil || st != 200 {
		t.Fatalf("producer by client certificate: %d %s %v", st, body, err)
	}
	// A certificate of the CA whose name is no token is no credential.
	stranger := ca.Client(t, "nobody")
	if st, _, err := doWith(tlsClient(pool, &stranger, t), "POST", base+"/core/update", "", `{"module":"finance","data":{}}`); err != nil || st != 401 {
		t.Errorf("client certificate with an unknown name: %d %v, want 401", st, err)
	}
	// A certificate of an unknown CA, even with a token's name, is refused at the handshake.
	forged := unknown.Client(t, "producer-any")
	if st, _, err := doWith(tlsClient(pool, &forged, t), "POST", base+"/core/update", "", `{"module":"finance","data":{}}`); err == nil {
		t.Errorf("client certificate of an unknown CA: answered %d, want the handshake refused", st)
	}
	// A client that does not trust the bridge's CA does not talk to it.
	if st, _, err := doWith(tlsClient(x509.NewCertPool(), nil, t), "GET", base+"/healthz", "", ""); err == nil {
		t.Errorf("client without the CA: answered %d, want a certificate error", st)
	}
	// Plain HTTP to the TLS port: Go's server answers 400 and nothing else.
	if st, _, err := doWith(http.DefaultClient, "GET", "http://"+addr+"/healthz", "", ""); err == nil && st != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS port: %d, want an error or 400", st)
	}

	// Both records reach the Bucket over TLS (trusting the private CA).
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, body, err := doWith(hc, "GET", base+"/bucket/status", testSecrets["viewer"], "")
		var s struct {
			Total int64 `json:"total_sync_count"`
		}
		if err == nil && st == 200 {
			if err := json.Unmarshal(body, &s); err != nil {
				t.Fatal(err)
			}
			if s.Total == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("records not synced over TLS: %d %s %v\nserve logs:\n%s", st, body, err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	bc, err := tlsconf.ClientConfig(caFile)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := bucket.NewClient(bucketURL, bucket.WithTLSConfig(bc)).Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Total != 2 {
		t.Errorf("the Bucket holds %+v, want 2 records", stats)
	}
	for _, secret := range testSecrets {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a token's secret is in serve's logs")
		}
	}
}

// --tls-cert and --tls-key go together; --client-ca needs them; files
// that do not load are usage errors (exit 2) before anything opens.
func TestTLSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "corebridge test CA")
	cert, key := ca.Server(t, "bridge").Write(t, dir, "bridge")
	caFile := filepath.Join(dir, "ca.pem")
	tlstest.WriteFile(t, caFile, ca.PEM)
	for _, c := range []struct {
		name string
		argv []string
		want string
	}{
		{"serve cert only", []string{"serve", "--tls-cert", cert}, "--tls-cert and --tls-key go together"},
		{"serve key only", []string{"serve", "--tls-key", key}, "--tls-cert and --tls-key go together"},
		{"bucket cert only", []string{"bucket", "--tls-cert", cert}, "--tls-cert and --tls-key go together"},
		{"client CA without TLS", []string{"serve", "--client-ca", caFile}, "--client-ca needs --tls-cert"},
		{"key is not a key", []string{"serve", "--tls-cert", cert, "--tls-key", caFile}, "tls:"},
		{"client CA is not PEM", []string{"serve", "--tls-cert", cert, "--tls-key", key, "--client-ca", key}, "--client-ca"},
		{"bucket CA missing", []string{"serve", "--bucket-ca", filepath.Join(dir, "missing.pem")}, "--bucket-ca"},
	} {
		argv := append([]string{"corebridge"}, c.argv...)
		argv = append(argv, "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "data"), "--log-format", "json")
		err := run(t.Context(), argv, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (exit %d), want a usage error with %q", c.name, err, exitCode(err), c.want)
		}
	}
}

// With TLS, serve's automation runner talks to the API over HTTPS,
// trusting the certificate serve serves: its job that sends an update
// passes and the record is synced.
func TestTLSAutomation(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "corebridge test CA")
	cert, key := ca.Server(t, "bridge").Write(t, dir, "bridge")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	config, reports := writeAutomation(t)
	addr, logs := startTLSCommand(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json",
		"--tls-cert", cert, "--tls-key", key, "--automation", config, "--automation-reports", reports}, insightLogFlags(t)...)...)
	hc, base := tlsClient(pool, nil, t), "https://"+addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, body, err := doWith(hc, "GET", base+"/api/automation/runs", "", "")
		var m struct {
			Runs []struct{ Job, Status, Reason string } `json:"runs"`
		}
		if err == nil && st == 200 {
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
		}
		ok := false
		for _, r := range m.Runs {
			if r.Job == "send-education" {
				if r.Status != "ok" {
					t.Fatalf("send-education over TLS: %s (%s)\nlogs:\n%s", r.Status, r.Reason, logs)
				}
				ok = true
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("send-education did not run: %d %s %v\nlogs:\n%s", st, body, err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
