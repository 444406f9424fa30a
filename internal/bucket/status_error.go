package bucket

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxMessage bounds StatusError.Message.
const maxMessage = 512

// StatusError is a non-200 answer from the Bucket.
type StatusError struct {
	StatusCode int
	// RetryAfter is how long the Bucket asked to wait (Retry-After in
	// seconds or as an HTTP date); 0 if it did not say.
	RetryAfter time.Duration
	// Message is the Bucket's error message, or the start of its body.
	Message string
	// NotProtocol is set when the answer is not one the protocol has: a
	// 2xx or 3xx other than 200, or a body that is not the protocol's
	// error ({"error": "…"}), such as a proxy's HTML page. A 4xx like that
	// says "wrong endpoint" rather than "wrong records". It makes the
	// error match ErrNotProtocol.
	NotProtocol bool
}

// Is makes a StatusError with NotProtocol match ErrNotProtocol.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotProtocol && e.NotProtocol
}

// Error returns e.g. "bucket: 503 Service Unavailable: bucket unavailable".
func (e *StatusError) Error() string {
	s := fmt.Sprintf("bucket: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Temporary reports whether the same request may succeed later unchanged:
// 408, 429 and 5xx. Any other 4xx is the request's own fault.
func (e *StatusError) Temporary() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

func newStatusError(resp *http.Response, now time.Time) *StatusError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	e := &StatusError{StatusCode: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now)}
	var doc struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.Error != "" {
		e.Message = snippet(doc.Error)
	} else {
		e.Message = snippet(string(body))
		e.NotProtocol = true
	}
	if resp.StatusCode < 400 {
		e.NotProtocol = true // the protocol answers 200 or an error
	}
	return e
}

// maxRetryAfter bounds what a Bucket may ask the forwarder to wait, in
// either form of Retry-After.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 10.2.3). Absent, unreadable or past values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		// Cap before multiplying so a huge value cannot overflow.
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// snippet trims s to one readable line of at most maxMessage bytes.
func snippet(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxMessage {
		return s
	}
	// A rune cut in two becomes invalid bytes, which are dropped.
	return strings.ToValidUTF8(s[:maxMessage], "") + "…"
}
