package api

import (
	"errors"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
	"corebridge/internal/insight"
)

// Authenticator turns an Authorization header into a principal;
// *auth.Tokens is one.
type Authenticator interface {
	Authenticate(authorization string) (*auth.Principal, error)
}

// SessionManager trades a token for a session cookie and checks it, for
// the dashboard (a page cannot send a bearer token with a page load or an
// event stream); *auth.Sessions is one.
type SessionManager interface {
	Login(secret string) (*auth.Principal, string, time.Time, error)
	Check(value string) (*auth.Principal, error)
}

// authenticate returns the request's principal: auth.Anonymous without
// an authenticator; else by its bearer token; without one, by a verified
// TLS client certificate (certPrincipal), then by its session cookie.
func (s *Server) authenticate(r *http.Request) (*auth.Principal, error) {
	if s.cfg.Auth == nil {
		return auth.Anonymous, nil
	}
	h := r.Header.Get("Authorization")
	if h != "" {
		return s.cfg.Auth.Authenticate(h)
	}
	if p, ok := s.certPrincipal(r); ok {
		return p, nil
	}
	if s.cfg.Sessions != nil {
		if c, err := r.Cookie(auth.SessionCookie); err == nil {
			return s.cfg.Sessions.Check(c.Value)
		}
	}
	return nil, auth.ErrNoCredentials
}

// guard wraps a route's handler with what every request must pass before
// the handler reads a byte of its body: the Host must be one this server
// answers for (so a DNS-rebinding page cannot read it); a request that
// changes state must not come from another site and must say it is JSON
// (a cross-site form or fetch cannot send that without a preflight); and
// its principal must be allowed the route's access. Refusals cost no store
// work.
func (s *Server) guard(access auth.Access, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			s.insight.Security(insight.SecHostRefused)
			writeJSON(w, http.StatusMisdirectedRequest, errorBody{Detail: "this server does not answer for host " + quoteHost(r.Host) + "; add it to --allowed-hosts",
				Error: errorInfo{Code: "misdirected", Message: "host not allowed"}})
			return
		}
		if changesState(r.Method) {
			if err := sameSite(r); err != nil {
				s.insight.Security(insight.SecCrossSite)
				writeError(w, r, s.log, err)
				return
			}
		}
		p := auth.Anonymous
		if access != auth.AccessOpen {
			var err error
			if p, err = s.authenticate(r); err != nil {
				unauthorized(w, r, s, err)
				return
			}
		}
		if !p.Allows(access) {
			s.insight.Security(insight.SecForbidden)
			writeError(w, r, s.log, bridge.Errorf(bridge.EFORBIDDEN, "token %q (role %s) may not use this route: it needs %s", p.Name, p.Role, access))
			return
		}
		h.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), p)))
	})
}

// unauthorized answers 401 for err, an authentication failure.
func unauthorized(w http.ResponseWriter, r *http.Request, s *Server, err error) {
	s.insight.Security(insight.SecAuthFailure)
	w.Header().Set("WWW-Authenticate", `Bearer realm="corebridge"`)
	msg := "a valid token is required: send Authorization: Bearer <token>"
	switch {
	case errors.Is(err, auth.ErrBadSession):
		msg = err.Error()
	case !errors.Is(err, auth.ErrNoCredentials):
		msg = "the token is not valid"
	}
	writeError(w, r, s.log, bridge.Errorf(bridge.EUNAUTHORIZED, "%s", msg))
}

// hostAllowed says whether the API answers for the Host header host.
func (s *Server) hostAllowed(host string) bool {
	if len(s.cfg.AllowedHosts) == 0 {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(strings.Trim(name, "[]"), "."))
	return slices.Contains(s.cfg.AllowedHosts, "*") || slices.Contains(s.cfg.AllowedHosts, name)
}

// quoteHost shows a Host header in an answer, bounded and quoted.
func quoteHost(h string) string {
	if len(h) > 100 {
		h = h[:100] + "…"
	}
	return `"` + strings.ToValidUTF8(h, "?") + `"`
}

func changesState(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// sameSite refuses what a page of another site can make a browser send:
// a request marked cross-site by Sec-Fetch-Site, one whose Origin is not
// this server, and a body that is not declared JSON (text/plain, a form,
// or no type: what a cross-site request may send without a preflight).
func sameSite(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return bridge.Errorf(bridge.EFORBIDDEN, "cross-site request refused (Sec-Fetch-Site: %s)", r.Header.Get("Sec-Fetch-Site"))
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || o == "null" || !strings.EqualFold(u.Host, r.Host) {
			return bridge.Errorf(bridge.EFORBIDDEN, "cross-origin request refused: Origin is not this server")
		}
	}
	if r.ContentLength == 0 {
		return nil // nothing to read: the handler answers what is missing
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return bridge.Errorf(bridge.EFORBIDDEN, "Content-Type must be application/json")
	}
	return nil
}
