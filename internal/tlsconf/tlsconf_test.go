package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"corebridge/internal/logtest"
	"corebridge/internal/tlsconf"
	"corebridge/internal/tlsconf/tlstest"
)

// A reload serves the new pair; one that fails keeps the old pair and says so.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "test CA")
	certFile, keyFile := ca.Server(t, "first").Write(t, dir, "server")
	logs := &logtest.Buffer{}
	c, err := tlsconf.Load(certFile, keyFile, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if cn := c.Leaf().Subject.CommonName; cn != "first" {
		t.Fatalf("loaded %q, want first", cn)
	}
	ca.Server(t, "second").Write(t, dir, "server")
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	got, _ := c.GetCertificate(nil)
	if cn := got.Leaf.Subject.CommonName; cn != "second" {
		t.Fatalf("after reload: %q, want second", cn)
	}
	tlstest.WriteFile(t, keyFile, []byte("not a key"))
	if err := c.Reload(); err == nil {
		t.Fatal("reload of a broken key: no error")
	}
	if cn := c.Leaf().Subject.CommonName; cn != "second" {
		t.Fatalf("after a failed reload: %q, want the old pair (second)", cn)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"TLS certificate not reloaded") {
		t.Errorf("failed reload not logged as a WARN:\n%s", logs)
	}
	if _, err := tlsconf.Load(certFile, filepath.Join(dir, "missing.key"), nil); err == nil {
		t.Error("Load with a missing key: no error")
	}
	if _, err := tlsconf.LoadPool(keyFile); err == nil {
		t.Error("LoadPool of a file with no certificate: no error")
	}
}

func TestRunReloadsOnSIGHUP(t *testing.T) {
	// An unhandled SIGHUP ends the process: keep one handler registered.
	keep := make(chan os.Signal, 1)
	signal.Notify(keep, syscall.SIGHUP)

	dir := t.TempDir()
	ca := tlstest.NewCA(t, "test CA")
	certFile, keyFile := ca.Server(t, "first").Write(t, dir, "server")
	c, err := tlsconf.Load(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	go c.Run(t.Context())
	ca.Server(t, "second").Write(t, dir, "server")
	deadline := time.Now().Add(10 * time.Second)
	for c.Leaf().Subject.CommonName != "second" {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not reload the pair")
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With a client CA, a client may come without a certificate or with one
// the CA issued; one from another CA is refused at the handshake.
func TestClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "test CA")
	other := tlstest.NewCA(t, "unknown CA")
	certFile, keyFile := ca.Server(t, "server").Write(t, dir, "server")
	caFile := filepath.Join(dir, "ca.pem")
	tlstest.WriteFile(t, caFile, ca.PEM)
	c, err := tlsconf.Load(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := tlsconf.LoadPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.VerifiedChains) > 0 {
			io.WriteString(w, r.TLS.VerifiedChains[0][0].Subject.CommonName)
			return
		}
		io.WriteString(w, "-")
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go hs.Serve(tls.NewListener(ln, c.ServerConfig(pool)))
	t.Cleanup(func() { hs.Close() })
	url := "https://" + ln.Addr().String() + "/"

	get := func(cfg *tls.Config) (string, error) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
		resp, err := hc.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	clientCfg, err := tlsconf.ClientConfig(caFile)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := get(clientCfg); err != nil || got != "-" {
		t.Errorf("no client certificate: %q, %v; want served without one", got, err)
	}
	withCert := func(p tlstest.Pair) *tls.Config {
		pair, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg := clientCfg.Clone()
		// Sent whatever CAs the server asks for, as curl --cert does;
		// Certificates would send none that the server's CAs did not issue.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
		return cfg
	}
	if got, err := get(withCert(ca.Client(t, "edu-lab-1"))); err != nil || got != "edu-lab-1" {
		t.Errorf("certificate of the client CA: %q, %v; want edu-lab-1", got, err)
	}
	if got, err := get(withCert(other.Client(t, "edu-lab-1"))); err == nil {
		t.Errorf("certificate of an unknown CA: served %q, want the handshake refused", got)
	}
	if got, err := get(&tls.Config{RootCAs: x509.NewCertPool()}); err == nil {
		t.Errorf("client that does not trust the CA: served %q, want an error", got)
	}
	if got, err := get(c.PinnedClientConfig()); err != nil || got != "-" {
		t.Errorf("pinned client: %q, %v", got, err)
	}
	// The pin follows a reload.
	ca.Server(t, "server-2").Write(t, dir, "server")
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, err := get(c.PinnedClientConfig()); err != nil || got != "-" {
		t.Errorf("pinned client after a reload: %q, %v", got, err)
	}
	pinnedOther, err := tlsconf.Load(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ca.Server(t, "server-3").Write(t, dir, "server")
	_ = pinnedOther.Reload()
	if _, err := get(pinnedOther.PinnedClientConfig()); err == nil {
		t.Error("pinned to another certificate: no error")
	}
}

// With SetClientCAFile, a new client CA file applies on Reload: a client
// of the new CA is let in, one of the old CA no longer; a CA file that
// does not load keeps the CAs before.
func TestClientCAReload(t *testing.T) {
	dir := t.TempDir()
	oldCA, newCA := tlstest.NewCA(t, "old CA"), tlstest.NewCA(t, "new CA")
	certFile, keyFile := oldCA.Server(t, "server").Write(t, dir, "server")
	caFile := filepath.Join(dir, "clients.pem")
	tlstest.WriteFile(t, caFile, oldCA.PEM)
	c, err := tlsconf.Load(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetClientCAFile(caFile); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.VerifiedChains) > 0 {
			io.WriteString(w, r.TLS.VerifiedChains[0][0].Subject.CommonName)
		}
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go hs.Serve(tls.NewListener(ln, c.ServerConfig(nil)))
	t.Cleanup(func() { hs.Close() })
	serverCA := filepath.Join(dir, "server-ca.pem")
	tlstest.WriteFile(t, serverCA, oldCA.PEM)
	clientCfg, err := tlsconf.ClientConfig(serverCA)
	if err != nil {
		t.Fatal(err)
	}
	get := func(p tlstest.Pair) (string, error) {
		pair, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg := clientCfg.Clone()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
		resp, err := hc.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if got, err := get(oldCA.Client(t, "a")); err != nil || got != "a" {
		t.Fatalf("old CA's client before the reload: %q, %v", got, err)
	}
	if _, err := get(newCA.Client(t, "b")); err == nil {
		t.Fatal("new CA's client let in before the reload")
	}
	tlstest.WriteFile(t, caFile, newCA.PEM)
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, err := get(newCA.Client(t, "b")); err != nil || got != "b" {
		t.Errorf("new CA's client after the reload: %q, %v", got, err)
	}
	if _, err := get(oldCA.Client(t, "a")); err == nil {
		t.Error("old CA's client still let in after the reload")
	}
	tlstest.WriteFile(t, caFile, []byte("not a certificate"))
	c.Reload()
	if got, err := get(newCA.Client(t, "b")); err != nil || got != "b" {
		t.Errorf("a broken CA file dropped the CAs before it: %q, %v", got, err)
	}
}
