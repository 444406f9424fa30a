package api

import (
	"net/http"

	"corebridge/internal/auth"
)

// NameAuthenticator is an Authenticator that can also name a principal
// outright: a client whose TLS certificate was verified against the
// configured client CAs is the token entry named by the certificate's
// Subject CommonName. *auth.Tokens is one. It is optional (checked with a
// type assertion) so that other Authenticators need not change.
type NameAuthenticator interface {
	ByName(name string) (*auth.Principal, bool)
}

// certPrincipal is the principal of a verified TLS client certificate:
// the token entry named by its Subject CommonName, if the authenticator
// can name principals and knows that one.
func (s *Server) certPrincipal(r *http.Request) (*auth.Principal, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, false
	}
	na, ok := s.cfg.Auth.(NameAuthenticator)
	if !ok {
		return nil, false
	}
	return na.ByName(r.TLS.VerifiedChains[0][0].Subject.CommonName)
}
