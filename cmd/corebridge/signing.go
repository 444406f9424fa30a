package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"corebridge/internal/webhook"
)

// signingSecretFlag defines --signing-secret-file. The secret is read from
// a file, never given as a flag value, so that it shows neither in ps nor
// in a shell's history.
func signingSecretFlag(fs *flag.FlagSet) *string {
	return fs.String("signing-secret-file", "", "sign every request with the whsec_… secret in this file (the token's signing_secrets); empty = unsigned")
}

// readSigningSecret reads and checks the secret at path ("" for none).
// Errors never show the file's content.
func readSigningSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--signing-secret-file: %w", err)
	}
	secret := strings.TrimSpace(string(data))
	if _, err := webhook.ParseSecret(secret); err != nil {
		return "", errors.New("--signing-secret-file " + path + ": " + err.Error())
	}
	return secret, nil
}
