package auth

import (
	"net/url"
	"strings"
)

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

// RedactURLsIn returns text with every URL in it that carries user
// information passed through RedactURL, for texts that may quote one: an
// error from a database driver, a command-line argument such as
// --bucket-url=https://u:p@host/. A URL runs from its scheme to the next
// space, quote or angle bracket.
func RedactURLsIn(text string) string {
	var b strings.Builder
	for {
		i := strings.Index(text, "://")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		start := i
		for start > 0 && isSchemeByte(text[start-1]) {
			start--
		}
		end := i + len("://")
		for end < len(text) && !strings.ContainsRune(" \t\r\n\"'`<>", rune(text[end])) {
			end++
		}
		b.WriteString(text[:start])
		if u := text[start:end]; strings.Contains(u, "@") {
			b.WriteString(RedactURL(u))
		} else {
			b.WriteString(u)
		}
		text = text[end:]
	}
}

// isSchemeByte reports whether c may be part of a URL scheme.
func isSchemeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}
