package main

import "testing"

func TestRedactArg(t *testing.T) {
	for in, want := range map[string]string{
		"serve":                           "serve",
		"--bucket-url":                    "--bucket-url",
		"http://u:secret@bucket.example/": "http://redacted@bucket.example/",
		"--bucket-url=https://u:secret@b.example/": "--bucket-url=https://redacted@b.example/",
		"--addr=127.0.0.1:8000":                    "--addr=127.0.0.1:8000",
		"user@example.com":                         "user@example.com",
	} {
		if got := redactArg(in); got != want {
			t.Errorf("redactArg(%q) = %q, want %q", in, got, want)
		}
	}
}
