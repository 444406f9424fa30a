package main

import (
	"crypto/subtle"

	"corebridge/internal/api"
	"corebridge/internal/auth"
)

// internalAuth lets the automation runner inside serve talk to serve's API
// like any client, with a token that exists only in this process: a fresh
// random secret made at start, never written anywhere, compared in
// constant time before the auth file's tokens.
type internalAuth struct {
	next   api.Authenticator
	bearer string // "Bearer " + the secret
	who    *auth.Principal
}

// newInternalAuth returns next with one more token, for name and role,
// and the token's secret.
func newInternalAuth(next api.Authenticator, name string, role auth.Role) (*internalAuth, string, error) {
	secret, err := auth.NewSecret()
	if err != nil {
		return nil, "", err
	}
	return &internalAuth{next: next, bearer: "Bearer " + secret, who: &auth.Principal{Name: name, Role: role, Modules: []string{"*"}}}, secret, nil
}

func (a *internalAuth) Authenticate(authorization string) (*auth.Principal, error) {
	if subtle.ConstantTimeCompare([]byte(authorization), []byte(a.bearer)) == 1 {
		p := *a.who
		return &p, nil
	}
	return a.next.Authenticate(authorization)
}

// ByName passes on to the auth file's tokens (client certificates): the
// internal token has no certificate.
func (a *internalAuth) ByName(name string) (*auth.Principal, bool) {
	if na, ok := a.next.(api.NameAuthenticator); ok {
		return na.ByName(name)
	}
	return nil, false
}
