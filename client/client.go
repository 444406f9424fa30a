// Package client is a small Go client for producers of the corebridge API:
// Core modules, the mock producer, the load generator and automation jobs
// send their updates through it and read the bridge's status with it.
//
// A Client is safe for concurrent use. It keeps its connections alive and
// sizes its connection pool to the concurrency it is given (WithMaxConns),
// because Go's default transport keeps only two idle connections per host
// and would otherwise open and discard a socket for most requests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultMaxConns is the connection pool size when WithMaxConns is not given.
const DefaultMaxConns = 16

// ErrBadResponse is wrapped by the error returned when a 2xx answer cannot
// be decoded: the request may have been applied, but its result is unknown.
var ErrBadResponse = errors.New("corebridge: undecodable response")

// Client talks to one corebridge API.
type Client struct {
	base  string
	token string
	hc    *http.Client
	sign  signer // signing.go
}

// Option configures a Client in New.
type Option func(*options)

type options struct {
	hc       *http.Client
	maxConns int
	token    string
	timeout  time.Duration
	secrets  []string // signing.go
}

// WithHTTPClient makes the Client send its requests through hc unchanged;
// WithMaxConns and WithTimeout then have no effect.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithMaxConns sets how many connections the Client may hold open to the
// API, busy or idle; it should be the number of goroutines that share it.
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// WithToken makes every request carry "Authorization: Bearer token".
// An empty token sends no Authorization header.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithTimeout bounds each request, from dialling to reading the answer.
// Zero (the default) leaves the bound to the caller's context.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// New returns a Client for the API at baseURL, e.g. "http://127.0.0.1:8000".
func New(baseURL string, opts ...Option) *Client {
	o := options{maxConns: DefaultMaxConns}
	for _, opt := range opts {
		opt(&o)
	}
	hc := o.hc
	if hc == nil {
		if o.maxConns < 1 {
			o.maxConns = 1
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = o.maxConns
		tr.MaxIdleConnsPerHost = o.maxConns
		tr.MaxConnsPerHost = o.maxConns
		hc = &http.Client{Transport: tr, Timeout: o.timeout}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: o.token, hc: hc, sign: newSigner(o.secrets)}
}

// CloseIdleConnections closes the Client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Update sends one update (POST /core/update). The update's idempotency
// key, if any, travels in the Idempotency-Key header, its load-test mark
// in Corebridge-Load-Test.
func (c *Client) Update(ctx context.Context, u UpdateRequest) (UpdateResponse, error) {
	h := http.Header{}
	if u.IdempotencyKey != "" {
		h.Set("Idempotency-Key", u.IdempotencyKey)
		u.IdempotencyKey = ""
	}
	if u.LoadTest {
		h.Set("Corebridge-Load-Test", "1")
	}
	var out UpdateResponse
	err := c.do(ctx, http.MethodPost, "/core/update", u, h, &out)
	return out, err
}

// Updates sends several updates in one request (POST /core/updates). They
// are accepted or refused together; results come in the order of us.
func (c *Client) Updates(ctx context.Context, us []UpdateRequest) (BatchResponse, error) {
	var out BatchResponse
	err := c.do(ctx, http.MethodPost, "/core/updates", batchRequest{Updates: us}, nil, &out)
	return out, err
}

// BucketStatus reads what has reached the Bucket so far (GET /bucket/status).
func (c *Client) BucketStatus(ctx context.Context) (BucketStatus, error) {
	var out BucketStatus
	err := c.do(ctx, http.MethodGet, "/bucket/status", nil, nil, &out)
	return out, err
}

// Health reads the bridge's health summary (GET /core/health).
func (c *Client) Health(ctx context.Context) (Health, error) {
	var out Health
	err := c.do(ctx, http.MethodGet, "/core/health", nil, nil, &out)
	return out, err
}

// do sends one request and decodes a 2xx JSON answer into out; any other
// status becomes an *APIError. The body is always drained and closed so
// that the connection goes back to the pool.
func (c *Client) do(ctx context.Context, method, path string, in any, h http.Header, out any) error {
	var body io.Reader
	var raw []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("corebridge: encode %s %s: %w", method, path, err)
		}
		raw = b
		// A *bytes.Reader lets net/http replay the body when a reused
		// keep-alive connection turns out to be closed.
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("corebridge: %s %s: %w", method, path, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if in != nil {
		if err := c.sign.headers(req.Header, raw); err != nil {
			return fmt.Errorf("corebridge: %s %s: %w", method, path, err)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err // a *url.Error naming the method and URL
	}
	defer drainClose(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(method, path, resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrBadResponse, method, path, err)
	}
	return nil
}

// maxDrain bounds how much of an unread answer is read to keep its
// connection; beyond it, closing the connection is cheaper.
const maxDrain = 256 << 10

func drainClose(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, maxDrain))
	_ = rc.Close()
}
