package api

import (
	"encoding/json"
	"net/http"
	"time"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
)

// sessionView is who a request is, for the dashboard: what to show and
// offer follows the role (the server refuses the rest anyway).
type sessionView struct {
	Auth      string   `json:"auth"` // tokens or none
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Modules   []string `json:"modules,omitempty"`
	ExpiresAt string   `json:"expires_at,omitempty"`
}

func viewOf(s *Server, p *auth.Principal) sessionView {
	v := sessionView{Auth: "tokens", Name: p.Name, Role: string(p.Role), Modules: p.Modules}
	if s.cfg.Auth == nil {
		v.Auth = "none"
	}
	return v
}

// handleLogin is POST /api/session {"token": "…"}: a valid token gets an
// HttpOnly, SameSite=Strict session cookie (Secure over TLS).
func handleLogin(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Auth == nil {
			writeJSON(w, http.StatusOK, viewOf(s, auth.Anonymous)) // nothing to sign in to
			return
		}
		if s.cfg.Sessions == nil {
			writeError(w, r, s.log, bridge.Errorf(bridge.ENOTFOUND, "sessions are not enabled: send a bearer token"))
			return
		}
		body, err := readBody(w, r, 4<<10)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		var in struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.Token == "" {
			writeError(w, r, s.log, &bridge.Error{Code: bridge.EINVALID, Message: "invalid body", Fields: []bridge.FieldError{{
				Loc: []any{"body", "token"}, Msg: "Field required: the token to sign in with", Type: "missing"}}})
			return
		}
		p, value, expires, err := s.cfg.Sessions.Login(in.Token)
		if err != nil {
			// Never the token: Actor stays empty.
			s.audit(r.Context(), nil, bridge.AuditEntry{Action: bridge.AuditLoginFailed})
			unauthorized(w, r, s, auth.ErrBadCredentials)
			return
		}
		s.audit(r.Context(), p, bridge.AuditEntry{Action: bridge.AuditLogin})
		http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: value, Path: "/", Expires: expires,
			MaxAge: int(time.Until(expires).Seconds()), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
		v := viewOf(s, p)
		v.ExpiresAt = bridge.FormatTime(expires)
		writeJSON(w, http.StatusOK, v)
	})
}

// handleWhoAmI is GET /api/session: who the request is (401 when not
// signed in, with an auth file).
func handleWhoAmI(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			unauthorized(w, r, s, err)
			return
		}
		writeJSON(w, http.StatusOK, viewOf(s, p))
	})
}

// handleLogout is DELETE /api/session: the cookie is dropped.
func handleLogout(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Auth != nil {
			// Who signs out, if the request still says (the route is open).
			p, err := s.authenticate(r)
			if err != nil {
				p = nil
			}
			s.audit(r.Context(), p, bridge.AuditEntry{Action: bridge.AuditLogout})
		}
		http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
		writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
	})
}
