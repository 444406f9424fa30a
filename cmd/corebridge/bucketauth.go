package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"corebridge/internal/bucket"
)

// headerFlag is --bucket-header, repeatable: `Name: value`, `Name: @file`
// or `Name: $ENV`. It shows only the names, never a value.
type headerFlag []string

func (h *headerFlag) String() string {
	if h == nil {
		return ""
	}
	names := make([]string, 0, len(*h))
	for _, s := range *h {
		name, _, _ := strings.Cut(s, ":")
		names = append(names, strings.TrimSpace(name))
	}
	return strings.Join(names, ",")
}

func (h *headerFlag) Set(s string) error {
	if _, err := bucket.ParseHeaderSpec(s, func(string) string { return "set" }); err != nil {
		return err
	}
	*h = append(*h, s)
	return nil
}

// bucketCredentials builds the headers serve sends to the Bucket from
// --bucket-token-file and --bucket-header; nil when there are none.
func (m *serveMain) bucketCredentials() (*bucket.Credentials, error) {
	cfg := m.cfg
	getenv := cfg.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var specs []bucket.HeaderSpec
	if cfg.bucketTokenFile != "" {
		specs = append(specs, bucket.BearerFile(cfg.bucketTokenFile))
	}
	for _, s := range cfg.bucketHeaders {
		h, err := bucket.ParseHeaderSpec(s, getenv)
		if err != nil {
			return nil, usageError{"--bucket-header: " + err.Error()}
		}
		if h.Name == "Authorization" && cfg.bucketTokenFile != "" {
			return nil, usageError{"--bucket-header Authorization and --bucket-token-file both set the Authorization header; use one"}
		}
		specs = append(specs, h)
	}
	if len(specs) == 0 {
		return nil, nil
	}
	log := m.log.With("component", "deliver")
	creds, err := bucket.NewCredentials(specs, bucket.CredentialsOptions{
		OnError: func(name string, err error) {
			log.Warn("cannot re-read a Bucket credential; the last value stays", "header", name, "err", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("bucket credentials: %w", err)
	}
	log.Info("sending credentials to the Bucket", "headers", strings.Join(creds.Names(), ","))
	return creds, nil
}

// bucketClientOptions adds the credentials and the signer, if any, to the
// client options.
func bucketClientOptions(creds *bucket.Credentials, signer bucket.Option, opts ...bucket.Option) []bucket.Option {
	if creds != nil {
		opts = append(opts, bucket.WithHeaders(func() http.Header { return creds.Headers() }))
	}
	if signer != nil {
		opts = append(opts, signer)
	}
	return opts
}
