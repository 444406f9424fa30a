package auth

import "testing"

func TestRedactURLsIn(t *testing.T) {
	for in, want := range map[string]string{
		"no url here":                                        "no url here",
		"http://bucket.example/v1":                           "http://bucket.example/v1",
		"http://u:secret@bucket.example/":                    "http://redacted@bucket.example/",
		"--bucket-url=https://u:secret@b.example/":           "--bucket-url=https://redacted@b.example/",
		"cannot parse `postgres://pg:secret@db:5432/x`: bad": "cannot parse `postgres://redacted@db:5432/x`: bad",
		"a postgres://a:s1@h/x and http://b:s2@k/ end":       "a postgres://redacted@h/x and http://redacted@k/ end",
		"user@example.com":                                   "user@example.com",
	} {
		if got := RedactURLsIn(in); got != want {
			t.Errorf("RedactURLsIn(%q) = %q, want %q", in, got, want)
		}
	}
}
