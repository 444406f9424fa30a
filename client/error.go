package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxErrorBody bounds how much of an error answer is kept in APIError.Body.
const maxErrorBody = 64 << 10

// APIError is a non-2xx answer from the API.
type APIError struct {
	Method     string
	Path       string
	StatusCode int
	// Code is the machine-readable error code ("unavailable", "invalid", …)
	// of {"error":{"code","message"}} answers; "" for validation failures.
	Code string
	// Message is the error's human-readable text: the error message, the
	// validation problems joined, or the start of a body that is not JSON.
	Message string
	// Details lists every validation problem of a 422 answer.
	Details []FieldError
	// Body is the raw answer, truncated to 64 KiB.
	Body []byte
	// RetryAfter is how long the server asked to wait (429, 503); 0 if it
	// did not say.
	RetryAfter time.Duration
}

// FieldError is one validation problem of a 422 answer, in FastAPI's shape:
// Loc is the path to the offending value ("body", then keys and indexes).
type FieldError struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// Error returns e.g. "corebridge: POST /core/update: 503 Service Unavailable: queue full".
func (e *APIError) Error() string {
	s := fmt.Sprintf("corebridge: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Temporary reports whether the same request may succeed later unchanged:
// rate limits, timeouts and server-side failures.
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

func newAPIError(method, path string, resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{
		Method:     method,
		Path:       path,
		StatusCode: resp.StatusCode,
		Body:       body,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	var doc struct {
		Detail json.RawMessage `json:"detail"`
		Error  *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		e.Message = textPrefix(body)
		return e
	}
	switch {
	case doc.Error != nil:
		e.Code, e.Message = doc.Error.Code, doc.Error.Message
	case len(doc.Detail) > 0:
		// FastAPI's detail is a list of problems, or a plain string for
		// errors raised by hand (HTTPException).
		var s string
		if json.Unmarshal(doc.Detail, &s) == nil {
			e.Message = s
		} else if json.Unmarshal(doc.Detail, &e.Details) == nil {
			msgs := make([]string, len(e.Details))
			for i, d := range e.Details {
				msgs[i] = formatLoc(d.Loc) + ": " + d.Msg
			}
			e.Message = strings.Join(msgs, "; ")
		}
	}
	return e
}

// formatLoc renders ["body","updates",3,"module"] as body.updates[3].module.
func formatLoc(loc []any) string {
	var b strings.Builder
	for i, p := range loc {
		switch v := p.(type) {
		case float64:
			fmt.Fprintf(&b, "[%d]", int(v))
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// textPrefix returns the start of a non-JSON body (a proxy's error page,
// say) on one line.
func textPrefix(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 200 {
		n := 200
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(secs, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
