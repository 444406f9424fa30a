package automation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxBody bounds how much of an answer a report keeps.
const maxBody = 64 << 10

type statusKey struct{}

// statusTransport notes the status code of each answer in the request's
// context, so that reports show the real code of calls made through the
// client package, which returns only the decoded answer.
type statusTransport struct{ base http.RoundTripper }

func (t statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if p, ok := req.Context().Value(statusKey{}).(*int); ok && resp != nil {
		*p = resp.StatusCode
	}
	return resp, err
}

func withStatus(ctx context.Context) context.Context {
	return context.WithValue(ctx, statusKey{}, new(int))
}

func statusOf(ctx context.Context) int {
	if p, ok := ctx.Value(statusKey{}).(*int); ok {
		return *p
	}
	return 0
}

// target resolves an http_request URL: a path goes to the bridge and
// carries the token; an absolute URL goes where it says, without it.
func (r *Runner) target(h HTTPAction) (url string, bridge bool) {
	if strings.HasPrefix(h.URL, "/") {
		return strings.TrimRight(r.opts.APIURL, "/") + h.URL, true
	}
	return h.URL, false
}

func (r *Runner) httpRequestOf(h HTTPAction) Request {
	// Reports are files others read: no secret goes in them.
	req := Request{Method: h.Method, URL: redactURL(h.URL), Headers: redactHeaders(h.Headers)}
	if h.Body != nil {
		req.Body = bodyOf(h.Body)
	}
	return req
}

func (r *Runner) doHTTP(ctx context.Context, h HTTPAction) outcome {
	url, bridge := r.target(h)
	var body io.Reader
	if h.Body != nil {
		body = bytes.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(ctx, h.Method, url, body)
	if err != nil {
		return outcome{err: fmt.Errorf("%s %s: %w", h.Method, h.URL, err)}
	}
	if h.Body != nil && json.Valid(h.Body) {
		req.Header.Set("Content-Type", "application/json")
	}
	if bridge && r.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.opts.Token)
	}
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return outcome{err: err, transient: isNetwork(err)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	out := outcome{status: resp.StatusCode, response: bodyOf(b)}
	want := h.ExpectStatus
	if want == nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 || slices.Contains(want, resp.StatusCode) {
		return out
	}
	expect := "a 2xx status"
	if want != nil {
		expect = fmt.Sprint("status ", want)
	}
	out.err = fmt.Errorf("%s %s: answered %d %s, want %s", h.Method, h.URL, resp.StatusCode, http.StatusText(resp.StatusCode), expect)
	out.transient = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	out.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return out
}

// bodyOf shows a body in a report: as JSON when it is JSON, else as text.
func bodyOf(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	s := string(b)
	if !utf8.ValidString(s) {
		return fmt.Sprintf("(%d bytes of binary)", len(b))
	}
	return s
}

// parseRetryAfter reads delay seconds or an HTTP date, as the client package does.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(secs, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
