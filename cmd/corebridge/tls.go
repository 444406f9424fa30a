package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"corebridge/internal/tlsconf"
)

// loadTLS loads --tls-cert and --tls-key for cmd: both or neither (nil).
func loadTLS(cmd, certFile, keyFile string, log *slog.Logger) (*tlsconf.Cert, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, usageError{cmd + ": --tls-cert and --tls-key go together: give both or neither"}
	}
	c, err := tlsconf.Load(certFile, keyFile, log.With("component", "tls"))
	if err != nil {
		return nil, usageError{fmt.Sprintf("%s: %v", cmd, err)}
	}
	return c, nil
}

// serveTLS is serve's TLS: the certificate it serves (nil: plain HTTP),
// the CAs of client certificates, and the TLS towards the Bucket.
type serveTLS struct {
	cert   *tlsconf.Cert
	bucket *tls.Config // nil: the system's roots
}

// scheme is the API's URL scheme with its "://".
func (m *serveMain) scheme() string {
	if m.tls.cert != nil {
		return "https://"
	}
	return "http://"
}

// openTLS loads --tls-cert/--tls-key, --client-ca and --bucket-ca.
func (m *serveMain) openTLS(context.Context) error {
	cfg := m.cfg
	cert, err := loadTLS("serve", cfg.tlsCert, cfg.tlsKey, m.log)
	if err != nil {
		return err
	}
	m.tls.cert = cert
	if cfg.clientCA != "" {
		if cert == nil {
			return usageError{"serve: --client-ca needs --tls-cert and --tls-key"}
		}
		// Reloaded with the certificate on SIGHUP.
		if err := cert.SetClientCAFile(cfg.clientCA); err != nil {
			return usageError{fmt.Sprintf("serve: --client-ca: %v", err)}
		}
	}
	if cfg.bucketCA != "" {
		if m.tls.bucket, err = tlsconf.ClientConfig(cfg.bucketCA); err != nil {
			return usageError{fmt.Sprintf("serve: --bucket-ca: %v", err)}
		}
	}
	return nil
}

// listenTLS wraps the API's listener in TLS, when configured.
func (m *serveMain) listenTLS(ln net.Listener) net.Listener {
	if m.tls.cert == nil {
		return ln
	}
	return tls.NewListener(ln, m.tls.cert.ServerConfig(nil)) // client CAs from --client-ca, if set
}

// runnerTLS is the automation runner's TLS towards this API: it trusts the
// certificate this process serves, whatever its names.
func (m *serveMain) runnerTLS() *tls.Config {
	if m.tls.cert == nil {
		return nil
	}
	return m.tls.cert.PinnedClientConfig()
}
