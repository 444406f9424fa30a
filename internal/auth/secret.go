package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	hashPrefix   = "sha256:"
	secretPrefix = "cbt_" // corebridge token: recognisable by secret scanners and by people
	secretBytes  = 32
	// maxSecretLen bounds what Authenticate hashes. Our secrets are 47
	// bytes; the margin is for secrets made by other means.
	maxSecretLen = 512
)

// HashSecret returns the hash of secret as the auth file holds it:
// "sha256:" and the hex SHA-256 of the secret.
//
// A fast hash is right here, unlike for passwords: a secret from NewSecret
// is 256 random bits, so there is nothing to brute-force or look up, and a
// slow hash (bcrypt, argon2) would only cost CPU on every request. GitHub
// stores its tokens the same way.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// NewSecret returns a fresh random secret: "cbt_" and 32 bytes from
// crypto/rand in unpadded base64url (47 characters in all).
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new secret: %w", err)
	}
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// bearerToken returns the token of an Authorization header value:
// the scheme Bearer in any case, one or more spaces, then a token68
// (RFC 7235 §2.1; RFC 6750 §2.1). It never returns the token in an error.
func bearerToken(authorization string) (string, error) {
	v := strings.Trim(authorization, " \t")
	if v == "" {
		return "", ErrNoCredentials
	}
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrBadCredentials
	}
	tok := strings.TrimLeft(rest, " ")
	if tok == "" || len(tok) > maxSecretLen || !isToken68(tok) {
		return "", ErrBadCredentials
	}
	return tok, nil
}

// isToken68 reports whether s is 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
// / "+" / "/" ) *"=".
func isToken68(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
