// Package tlsconf is the TLS of serve and the reference Bucket: a
// certificate and key loaded from files and served through
// tls.Config.GetCertificate, so that a reload (on SIGHUP) takes effect for
// the next handshake without a restart; optional client certificates
// verified against a CA file; and the pools a client trusts.
package tlsconf

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

// Cert is a certificate and key pair loaded from two PEM files. Reload
// swaps in a new pair atomically; handshakes in progress keep the pair
// they started with.
type Cert struct {
	certFile, keyFile string
	log               *slog.Logger

	mu  sync.Mutex // serialises reloads
	cur atomic.Pointer[tls.Certificate]

	caFile string                        // with SetClientCAFile: reloaded with the pair
	cas    atomic.Pointer[x509.CertPool] // the client CAs now
}

// SetClientCAFile makes the client CAs of ServerConfig(nil) come from
// path, loaded now and again on every Reload (a CA file that does not load
// keeps the CAs loaded before).
func (c *Cert) SetClientCAFile(path string) error {
	pool, err := LoadPool(path)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.caFile = path
	c.cas.Store(pool)
	c.mu.Unlock()
	return nil
}

// Load reads the pair from certFile and keyFile (PEM). log gets the
// reloads; nil discards.
func Load(certFile, keyFile string, log *slog.Logger) (*Cert, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cert{certFile: certFile, keyFile: keyFile, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cert) load() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %s, %s: %w", c.certFile, c.keyFile, err)
	}
	if pair.Leaf == nil { // set by LoadX509KeyPair since Go 1.23
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("tls: %s: %w", c.certFile, err)
		}
	}
	c.cur.Store(&pair)
	return nil
}

// Reload re-reads the files. On error the pair loaded before stays in use,
// and the error is logged as a warning and returned.
func (c *Cert) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caFile != "" {
		if pool, err := LoadPool(c.caFile); err != nil {
			c.log.Warn("client CAs not reloaded; keeping those loaded before", "client_ca", c.caFile, "err", err)
		} else {
			c.cas.Store(pool)
			c.log.Info("client CAs reloaded", "client_ca", c.caFile)
		}
	}
	if err := c.load(); err != nil {
		c.log.Warn("TLS certificate not reloaded; keeping the one loaded before", "cert", c.certFile, "err", err)
		return err
	}
	leaf := c.Leaf()
	c.log.Info("TLS certificate reloaded", "cert", c.certFile, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
	return nil
}

// Run reloads the pair on SIGHUP until ctx ends; then it returns nil.
func (c *Cert) Run(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			_ = c.Reload() // logged by Reload; the old pair stays
		}
	}
}

// Leaf is the certificate served now.
func (c *Cert) Leaf() *x509.Certificate { return c.cur.Load().Leaf }

// GetCertificate serves the current pair; it is tls.Config.GetCertificate.
func (c *Cert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// ServerConfig is a server's TLS: TLS 1.2 or later, the current pair, and,
// if clientCAs is not nil, client certificates verified against it. A
// client certificate is optional (so that bearer tokens work without one),
// but one that does not verify ends the handshake.
//
// With SetClientCAFile (and clientCAs nil), each handshake verifies
// against the CAs loaded last, so a new CA file applies on SIGHUP.
func (c *Cert) ServerConfig(clientCAs *x509.CertPool) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
	if clientCAs != nil {
		cfg.ClientCAs = clientCAs
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	} else if c.cas.Load() != nil {
		cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate,
				ClientCAs: c.cas.Load(), ClientAuth: tls.VerifyClientCertIfGiven}, nil
		}
	}
	return cfg
}

// PinnedClientConfig is a client's TLS that trusts exactly the certificate
// c serves at the time of each handshake, whatever its names and issuer:
// for a process talking to its own listener (serve's automation runner).
func (c *Cert) PinnedClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is VerifyConnection's: the peer must present the
		// very certificate this process serves.
		InsecureSkipVerify: true, //nolint:gosec
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, c.Leaf().Raw) {
				return errors.New("tls: the server's certificate is not this process's own")
			}
			return nil
		},
	}
}

// LoadPool reads the PEM certificates of path into a pool; a file with
// none is an error.
func LoadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("tls: %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// ClientConfig is a client's TLS trusting the certificates of the PEM file
// caFile (instead of the system's), TLS 1.2 or later.
func ClientConfig(caFile string) (*tls.Config, error) {
	pool, err := LoadPool(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}
