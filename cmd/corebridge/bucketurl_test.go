package main

import (
	"context"
	"corebridge/internal/logtest"
	"io"
	"strings"
	"testing"
	"time"
)

// A --bucket-url that cannot be delivered to stops serve at start with a
// usage error (exit 2) that names the flag and says what is wrong, and
// never prints the URL's password.
func TestServeRefusesBadBucketURL(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"not-a-url", "no scheme"},
		{"127.0.0.1:8100", "no scheme"},
		{"localhost:8100", "no scheme"},
		{"ftp://x", `scheme "ftp"`},
		{"http://", "no host"},
		{"http://h:8100/?a=1", "query"},
		{"http://h:8100/#top", "fragment"},
		{"ftp://user:s3cret@bucket.example/", `scheme "ftp"`},
		{"http://user:s3cret@bucket.example/?a=1", "query"},
	} {
		t.Run(c.url, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			var stderr logtest.Buffer
			argv := append([]string{"corebridge", "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json",
				"--bucket-url", c.url}, insightLogFlags(t)...)
			err := run(ctx, argv, func(string) string { return "" }, strings.NewReader(""), io.Discard, &stderr)
			if err == nil || exitCode(err) != 2 {
				t.Fatalf("serve --bucket-url %q: %v (exit %d), want a usage error (exit 2); it logged:\n%.300s", c.url, err, exitCode(err), stderr.String())
			}
			msg := err.Error()
			for _, want := range []string{"--bucket-url", c.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
			if strings.Contains(msg+stderr.String(), "s3cret") {
				t.Errorf("the password was printed: %q\n%s", msg, stderr.String())
			}
		})
	}
}

// A well-formed --bucket-url starts serve, even when nothing answers there.
func TestServeAcceptsBucketURL(t *testing.T) {
	_, stop := startServe(t, "--data-dir", t.TempDir(), "--bucket-url", "http://127.0.0.1:1/")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckBucketURL(t *testing.T) {
	for _, ok := range []string{"", "http://127.0.0.1:1/", "http://localhost:8100", "https://bucket.example/base/path",
		"https://user:pass@bucket.example:8443/", "HTTP://h/"} {
		if err := checkBucketURL(ok); err != nil {
			t.Errorf("checkBucketURL(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"http:opaque", "http://:8100/", "http://h:port/", "http://h/?", "http://h/#", "user:s3cret@h:8100"} {
		err := checkBucketURL(bad)
		if err == nil {
			t.Errorf("checkBucketURL(%q) = nil, want an error", bad)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("checkBucketURL(%q) printed the password: %v", bad, err)
		}
	}
}
