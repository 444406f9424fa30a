package bucket

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/webhook"
)

// ErrBadResponse is wrapped by the error of a 200 answer that cannot be
// trusted (undecodable, or results that do not match the request): the
// batch may or may not have been stored, so it is safe only to resend it.
var ErrBadResponse = errors.New("bucket: bad response")

// ErrNotProtocol is wrapped by the error of an answer that is not the
// Bucket protocol at all: a 2xx whose body is not the protocol's JSON
// results (an HTML page from a proxy, another service's JSON), or a 4xx
// whose body is not the protocol's error ({"error": …}); see
// StatusError.NotProtocol. It says "wrong endpoint", not "wrong records".
// A 2xx such error wraps ErrBadResponse too.
var ErrNotProtocol = errors.New("the answer is not the Bucket protocol")

// maxAnswer bounds the 200 answer of POST /v1/records that is read.
const maxAnswer = 64 << 20

// DefaultConcurrency sizes the connection pool when WithConcurrency is not given.
const DefaultConcurrency = 8

// Client speaks the Bucket protocol to one Bucket. It is safe for
// concurrent use.
type Client struct {
	base    string
	hc      *http.Client
	timeout time.Duration
	headers func() http.Header
	signer  func() []webhook.Secret
}

// Option configures a Client in NewClient.
type Option func(*clientOptions)

type clientOptions struct {
	concurrency int
	timeout     time.Duration
	hc          *http.Client
	tls         *tls.Config
	headers     func() http.Header
	signer      func() []webhook.Secret
}

// WithConcurrency sizes the pool to the number of requests that may be in
// flight at once: that many connections, all kept alive between batches.
// Go's default transport keeps 2 idle connections per host and would open
// and discard a socket for most batches.
func WithConcurrency(n int) Option { return func(o *clientOptions) { o.concurrency = n } }

// WithTimeout bounds each request, from dialling to reading the answer.
// Zero leaves the bound to the caller's context.
func WithTimeout(d time.Duration) Option { return func(o *clientOptions) { o.timeout = d } }

// WithHTTPClient sends through hc unchanged; WithConcurrency has no effect.
func WithHTTPClient(hc *http.Client) Option { return func(o *clientOptions) { o.hc = hc } }

// WithTLSConfig speaks HTTPS with cfg: e.g. RootCAs for a Bucket whose
// certificate a private CA issued. No effect with WithHTTPClient.
func WithTLSConfig(cfg *tls.Config) Option { return func(o *clientOptions) { o.tls = cfg } }

// WithHeaders adds the headers headers returns to every request; it is
// called per request, so its answer may change (a token file re-read).
func WithHeaders(headers func() http.Header) Option {
	return func(o *clientOptions) { o.headers = headers }
}

// NewClient returns a Client for the Bucket at baseURL, e.g.
// "http://127.0.0.1:8100".
func NewClient(baseURL string, opts ...Option) *Client {
	o := clientOptions{concurrency: DefaultConcurrency}
	for _, opt := range opts {
		opt(&o)
	}
	hc := o.hc
	if hc == nil {
		n := max(o.concurrency, 1)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = n
		tr.MaxIdleConnsPerHost = n
		tr.MaxConnsPerHost = n
		if o.tls != nil {
			tr.TLSClientConfig = o.tls
		}
		hc = &http.Client{Transport: tr}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc, timeout: o.timeout, headers: o.headers, signer: o.signer}
}

// URL returns the Bucket's base URL.
func (c *Client) URL() string { return c.base }

// CloseIdleConnections closes the Client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Send delivers recs in one POST /v1/records and returns one Result per
// record, in order. A non-200 answer is a *StatusError; a network failure
// or timeout is returned wrapped; a 200 whose results do not match recs
// wraps ErrBadResponse.
func (c *Client) Send(ctx context.Context, recs []bridge.Record) ([]Result, error) {
	return c.SendRecords(ctx, WireRecords(recs))
}

// SendRecords is Send for records already in wire form.
func (c *Client) SendRecords(ctx context.Context, recs []Record) ([]Result, error) {
	if len(recs) == 0 {
		return []Result{}, nil
	}
	body, err := appendRequest(make([]byte, 0, 256*len(recs)), recs)
	if err != nil {
		return nil, fmt.Errorf("bucket: encode request: %w", err)
	}
	answer, ctype, err := c.roundTrip(ctx, http.MethodPost, "/v1/records", body)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Results *[]Result `json:"results"`
	}
	if err := json.Unmarshal(answer, &resp); err != nil || resp.Results == nil {
		return nil, fmt.Errorf("%w: %w: POST /v1/records answered 200 %s", ErrBadResponse, ErrNotProtocol, describe(ctype, answer))
	}
	results := *resp.Results
	if len(results) != len(recs) {
		return nil, fmt.Errorf("%w: %d results for %d records", ErrBadResponse, len(results), len(recs))
	}
	for i, res := range results {
		if res.ID != recs[i].ID {
			return nil, fmt.Errorf("%w: result %d is for id %q, want %q", ErrBadResponse, i, res.ID, recs[i].ID)
		}
		switch res.Status {
		case StatusStored, StatusDuplicate, StatusRejected, StatusConflict:
		default:
			return nil, fmt.Errorf("%w: result %d (id %q) has unknown status %q", ErrBadResponse, i, res.ID, res.Status)
		}
	}
	return results, nil
}

// describe names an answer that is not the protocol: its content type and
// the start of its body.
func describe(ctype string, body []byte) string {
	if ctype == "" {
		ctype = "no content type"
	}
	if len(body) == 0 {
		return "with an empty body (" + ctype + ")"
	}
	return fmt.Sprintf("with a body that is not the protocol's results (%s): %s", ctype, snippet(string(body[:min(len(body), 200)])))
}

// Healthy checks that the Bucket answers GET /healthz with 200.
func (c *Client) Healthy(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil)
}

// Records reads one page of what the Bucket holds, in the order it stored
// it: of module only if module is not "", after the record with id after
// ("" from the start), up to limit (0 for the Bucket's default).
func (c *Client) Records(ctx context.Context, module, after string, limit int) ([]StoredRecord, error) {
	q := url.Values{}
	if module != "" {
		q.Set("module", module)
	}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/records"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var page Page
	if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
		return nil, err
	}
	return page.Records, nil
}

// Stats reads how many records the Bucket holds (GET /v1/stats).
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := c.do(ctx, http.MethodGet, "/v1/stats", nil, &st)
	return st, err
}

// do sends one request and decodes a 200 answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.start(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return newStatusError(resp, time.Now())
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("bucket: %s %s: read answer: %w", method, path, err)
		}
		return fmt.Errorf("%w: %s %s: %v", ErrBadResponse, method, path, err)
	}
	return nil
}

// roundTrip sends one request and reads the whole of a 200 answer, with
// its content type. A body cut off on the way is a network error, not a
// bad answer: only a body read to its end is judged.
func (c *Client) roundTrip(ctx context.Context, method, path string, body []byte) ([]byte, string, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.start(ctx, method, path, body)
	if err != nil {
		return nil, "", err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, "", newStatusError(resp, time.Now())
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, "", fmt.Errorf("bucket: %s %s: read answer: %w", method, path, err)
	}
	return answer, resp.Header.Get("Content-Type"), nil
}

// drain reads what is left of resp's body and closes it, so that the
// connection goes back to the pool.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// start sends one request and returns the answer, whose body the caller
// must drain.
func (c *Client) start(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("bucket: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.headers != nil {
		for k, vs := range c.headers() {
			req.Header[k] = vs
		}
	}
	if body != nil && c.signer != nil {
		webhook.SetHeaders(req.Header, body, time.Now(), c.signer()...)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bucket: %s %s: %w", method, path, err)
	}
	return resp, nil
}
