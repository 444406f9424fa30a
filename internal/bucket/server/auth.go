package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// ReadTokenFile reads the tokens a Bucket requires: one per line; blank
// lines and lines starting with # are skipped. A file with none is an error.
func ReadTokenFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	tokens, err := parseTokens(b)
	if err != nil {
		return nil, fmt.Errorf("token file %s %w", path, err)
	}
	return tokens, nil
}

// WatchTokenFile is ReadTokenFile, re-read when the file changes (checked
// at most every o.CheckEvery): set its Get as ServerConfig.TokenSource. A
// file that cannot be re-read keeps the tokens it held.
func WatchTokenFile(path string, o bucket.WatchOptions) (*bucket.WatchedFile[[]string], error) {
	w, err := bucket.WatchFile(path, parseTokens, o)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	return w, nil
}

func parseTokens(b []byte) ([]string, error) {
	var tokens []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tokens = append(tokens, line)
	}
	if len(tokens) == 0 {
		return nil, errors.New("holds no token")
	}
	return tokens, nil
}

// requireToken wraps next: every route but GET /healthz needs
// Authorization: Bearer <one of the tokens tokens returns>, or is answered
// 401. tokens is asked per request, so a token file re-read takes effect.
func requireToken(s *Server, tokens func() []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		// Compare hashes, so the comparison time says nothing of a
		// token's length.
		sum := sha256.Sum256([]byte(got))
		match := 0
		for _, t := range tokens() {
			want := sha256.Sum256([]byte(t))
			match |= subtle.ConstantTimeCompare(sum[:], want[:])
		}
		if !ok || match != 1 {
			s.log.Warn("bucket request refused: missing or unknown token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="bucket"`)
			writeError(w, r, s, bridge.Errorf(bridge.EUNAUTHORIZED, "missing or unknown bearer token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
