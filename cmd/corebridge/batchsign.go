package main

import (
	"corebridge/internal/bucket"
)

// bucketSigner builds the option that signs every batch to the Bucket with
// the secrets of --bucket-signing-secret-file; nil without the flag. The
// file is re-read when it changes; a file that is missing, empty or
// invalid at start is a usage error naming the flag, never the content.
func (m *serveMain) bucketSigner() (bucket.Option, error) {
	path := m.cfg.bucketSigningFile
	if path == "" {
		return nil, nil
	}
	log := m.log.With("component", "deliver")
	w, err := bucket.WatchSecrets(path, bucket.WatchOptions{
		OnError: func(err error) {
			log.Warn("cannot re-read --bucket-signing-secret-file; the last secrets stay", "err", err)
		},
	})
	if err != nil {
		return nil, usageError{"--bucket-signing-secret-file: " + err.Error()}
	}
	if m.cfg.bucketURL == "" {
		log.Warn("--bucket-signing-secret-file without --bucket-url: the embedded Bucket does not verify signatures")
	}
	log.Info("signing every batch to the Bucket", "secrets", len(w.Get()))
	return bucket.WithSigner(w.Get), nil
}
