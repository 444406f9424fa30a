package auth

import "net/url"

// RedactURL returns u fit to log or show: any user information (a
// user:password@ for the Bucket, say) is replaced by "redacted". A string
// that does not parse as a URL is replaced whole, since it may hold one.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL, not shown)"
	}
	if p.User != nil {
		p.User = url.User("redacted")
	}
	return p.String()
}
