package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"corebridge/internal/auth"
)

// checkBucketURL says what is wrong with a --bucket-url, or nil when it
// is empty (the embedded Bucket) or http(s)://host[:port][/path], with
// userinfo allowed. The message shows the URL only through
// auth.RedactURL, so never its password.
func checkBucketURL(raw string) error {
	if raw == "" {
		return nil
	}
	const want = "write it as http(s)://host[:port][/path]"
	shown := raw // no "@", no password
	switch {
	case !strings.Contains(raw, "@"):
	case !strings.Contains(raw, "://"):
		shown = "(not shown: it may hold a password)" // user:pass@host parses as scheme "user"
	default:
		shown = auth.RedactURL(raw)
	}
	bad := func(what string) error {
		return usageError{fmt.Sprintf("--bucket-url %s: %s; %s", shown, what, want)}
	}
	if !strings.Contains(raw, "://") {
		return bad("no scheme (http:// or https://)")
	}
	p, err := url.Parse(raw)
	if err != nil {
		// url.Error's text repeats the URL, password included: keep
		// only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return bad("not a URL: " + err.Error())
	}
	switch {
	case p.Scheme != "http" && p.Scheme != "https":
		return bad(fmt.Sprintf("scheme %q is not http or https", p.Scheme))
	case p.Hostname() == "":
		return bad("no host")
	case p.RawQuery != "" || p.ForceQuery:
		return bad("a query (?…) is not allowed")
	case p.Fragment != "" || strings.Contains(raw, "#"):
		return bad("a fragment (#…) is not allowed")
	}
	return nil
}
