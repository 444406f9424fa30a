package automation

import (
	"net/url"
	"strings"
)

// redacted replaces a secret in a report.
const redacted = "[redacted]"

// secretHeader reports whether a header's value is a secret: Authorization,
// Proxy-Authorization, Cookie, Set-Cookie, and any header whose name holds
// token, secret, key, signature, password or auth (but
// Idempotency-Key).
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "cookie", "set-cookie":
		return true
	case "idempotency-key": // names a request, gives no access
		return false
	}
	for _, w := range []string{"auth", "token", "secret", "key", "signature", "password"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// redactHeaders returns headers for a report, secret values replaced.
func redactHeaders(h map[string]string) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if secretHeader(k) {
			v = redacted
		}
		out[k] = v
	}
	return out
}

// redactURL hides the password of a URL's user:password@ for a report.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User("redacted")
	return u.String()
}
