package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/auth"
)

// principals of the route table: the secret each sends ("" sends none).
var tablePrincipals = []struct{ name, secret string }{
	{"none", ""},
	{"producer-edu", "cbt_producer_edu_secret"},
	{"producer-any", "cbt_producer_any_secret"},
	{"viewer", "cbt_viewer_secret"},
	{"operator", "cbt_operator_secret"},
	{"admin", "cbt_admin_secret"},
}

func tableTokens() *auth.Tokens {
	entry := func(name string, role auth.Role, modules ...string) auth.Entry {
		for _, p := range tablePrincipals {
			if p.name == name {
				return auth.Entry{Name: name, Role: role, Modules: modules, Hash: auth.HashSecret(p.secret)}
			}
		}
		panic(name)
	}
	return auth.NewTokens([]auth.Entry{
		entry("producer-edu", auth.RoleProducer, "education"),
		entry("producer-any", auth.RoleProducer, "*"),
		entry("viewer", auth.RoleViewer),
		entry("operator", auth.RoleOperator),
		entry("admin", auth.RoleAdmin),
	})
}

// okHandler stands in for the dashboard's handlers.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

// TestRouteAccessByRole: every route of the API, by who asks: no token, a
// producer of education, a producer of any module, a viewer, an operator
// and an admin. The table must name every registered route.
func TestRouteAccessByRole(t *testing.T) {
	const (
		u = http.StatusUnauthorized
		x = http.StatusForbidden
		k = http.StatusOK
		n = http.StatusNotFound
		m = http.StatusMovedPermanently
	)
	tokens := tableTokens()
	sessions, err := auth.NewSessions(tokens, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, setup{api: api.Config{Auth: tokens, Sessions: sessions, OpenReadyz: true,
		OpenAPIJSON: []byte(`{"openapi":"3.1.0"}`),
		Dashboard:   &api.Dashboard{Page: okHandler, Assets: okHandler, Events: okHandler}}})
	edu := `{"module":"education","data":{"a":1}}`
	//                                                                    none producer-edu producer-any viewer operator admin
	table := []struct {
		pattern, method, path, body string
		want                        [6]int
	}{
		{"POST /core/update", "POST", "/core/update", edu, [6]int{u, k, k, x, x, k}},
		{"POST /core/updates", "POST", "/core/updates", `[` + edu + `]`, [6]int{u, k, k, x, x, k}},
		{"POST /core/heartbeat", "POST", "/core/heartbeat", `{"module":"education"}`, [6]int{u, k, k, x, x, k}},
		{"GET /bucket/status", "GET", "/bucket/status", "", [6]int{u, x, x, k, k, k}},
		{"GET /core/health", "GET", "/core/health", "", [6]int{u, x, x, k, k, k}},
		{"GET /healthz", "GET", "/healthz", "", [6]int{k, k, k, k, k, k}},
		{"GET /readyz", "GET", "/readyz", "", [6]int{k, k, k, k, k, k}},
		{"GET /api/dead-letters", "GET", "/api/dead-letters", "", [6]int{u, x, x, k, k, k}},
		{"POST /api/dead-letters/replay", "POST", "/api/dead-letters/replay", `{"ids":["no-such-id"]}`, [6]int{u, x, x, x, k, k}},
		{"POST /api/dead-letters/purge", "POST", "/api/dead-letters/purge", `{"ids":["no-such-id"]}`, [6]int{u, x, x, x, k, k}},
		{"PUT /api/dead-letters/{id}/data", "PUT", "/api/dead-letters/no-such-id/data", `{"data":{"a":2}}`, [6]int{u, x, x, x, n, n}},
		{"GET /api/records/{id}", "GET", "/api/records/no-such-id", "", [6]int{u, x, x, n, n, n}},
		// No reconciliation service in this fixture: 501 once allowed (repair=true: see reconcile_test.go).
		{"POST /api/reconcile", "POST", "/api/reconcile", "", [6]int{u, x, x, http.StatusNotImplemented, http.StatusNotImplemented, http.StatusNotImplemented}},
		{"GET /api/reconcile", "GET", "/api/reconcile", "", [6]int{u, x, x, http.StatusNotImplemented, http.StatusNotImplemented, http.StatusNotImplemented}},
		// A body that is not a drill report: 400 once allowed.
		{"POST /api/drill", "POST", "/api/drill", `{}`, [6]int{u, x, x, x, http.StatusBadRequest, http.StatusBadRequest}},
		{"GET /api/drill", "GET", "/api/drill", "", [6]int{u, x, x, k, k, k}},
		{"GET /api/summary", "GET", "/api/summary", "", [6]int{u, x, x, k, k, k}},
		{"GET /api/modules", "GET", "/api/modules", "", [6]int{u, x, x, k, k, k}},
		{"GET /api/series", "GET", "/api/series", "", [6]int{u, x, x, k, k, k}},
		{"GET /api/automation/runs", "GET", "/api/automation/runs", "", [6]int{u, x, x, k, k, k}},
		{"GET /api/audit", "GET", "/api/audit", "", [6]int{u, x, x, k, k, k}},
		{"GET /metrics", "GET", "/metrics", "", [6]int{u, x, x, k, k, k}},
		{"GET /openapi.json", "GET", "/openapi.json", "", [6]int{k, k, k, k, k, k}},
		{"GET /docs", "GET", "/docs", "", [6]int{k, k, k, k, k, k}},
		{"GET /docs/assets/{name}", "GET", "/docs/assets/no-such-asset.js", "", [6]int{n, n, n, n, n, n}},
		{"GET /redoc", "GET", "/redoc", "", [6]int{m, m, m, m, m, m}},
		{"GET /{$}", "GET", "/", "", [6]int{k, k, k, k, k, k}},
		{"GET /assets/{name}", "GET", "/assets/app.js", "", [6]int{k, k, k, k, k, k}},
		{"GET /api/events", "GET", "/api/events", "", [6]int{u, x, x, k, k, k}},
		{"GET /api", "GET", "/api", "", [6]int{u, x, x, k, k, k}},
		// The session routes authenticate for themselves: a wrong token in the
		// body is refused whoever asks; GET says who the caller is.
		{"POST /api/session", "POST", "/api/session", `{"token":"cbt_wrong"}`, [6]int{u, u, u, u, u, u}},
		{"GET /api/session", "GET", "/api/session", "", [6]int{u, k, k, k, k, k}},
		{"DELETE /api/session", "DELETE", "/api/session", "", [6]int{k, k, k, k, k, k}},
	}
	covered := map[string]bool{}
	for _, row := range table {
		covered[row.pattern] = true
		for i, p := range tablePrincipals {
			t.Run(row.pattern+"/"+p.name, func(t *testing.T) {
				var hdr []string
				if p.secret != "" {
					hdr = []string{"Authorization", "Bearer " + p.secret}
				}
				r := f.do(t, row.method, row.path, row.body, hdr...)
				if r.code != row.want[i] {
					t.Fatalf("%s %s as %s: %d, want %d; body %s", row.method, row.path, p.name, r.code, row.want[i], r.body)
				}
				if r.code == u && r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
	}
	for pattern := range f.srv.Access() {
		if !covered[pattern] {
			t.Errorf("route %s is not in the table", pattern)
		}
	}
}

// A producer of education may not send finance: 403 naming the module,
// and nothing of the request is stored, in one update or in a batch.
func TestProducerLimitedToItsModules(t *testing.T) {
	f := newFixtureWith(t, setup{api: api.Config{Auth: tableTokens()}})
	bearer := []string{"Authorization", "Bearer cbt_producer_edu_secret"}
	r := f.do(t, "POST", "/core/update", `{"module":"finance","data":{"a":1}}`, bearer...)
	r.want(t, http.StatusForbidden)
	if !strings.Contains(string(r.body), `module \"finance\"`) {
		t.Errorf("403 does not name the module: %s", r.body)
	}
	r = f.do(t, "POST", "/core/updates", `[{"module":"education","data":{}},{"module":"finance","data":{}}]`, bearer...)
	r.want(t, http.StatusForbidden)
	if st := f.stats(t); st.Received != 0 {
		t.Fatalf("%d records stored after refusals", st.Received)
	}
	f.do(t, "POST", "/core/update", `{"module":"education","data":{"a":1}}`, bearer...).want(t, http.StatusOK)
	if st := f.stats(t); st.Received != 1 {
		t.Fatalf("%d records stored, want the one of education", st.Received)
	}
}

// Cross-site: a foreign Origin, a cross-site fetch or a body that is not
// JSON, to any route that changes state, is refused with 403 and changes
// nothing; a foreign Host gets 421. Without any auth file too.
func TestCrossSiteRefused(t *testing.T) {
	f := newFixtureWith(t, setup{api: api.Config{AllowedHosts: []string{"localhost", "127.0.0.1", "::1"}}})
	// One dead letter, which a forged purge must not touch.
	f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`, "Host", "127.0.0.1:8000").want(t, http.StatusOK)
	f.settle(t, f.clock.Now(), 1, 0)
	changing := []struct{ method, path, body string }{
		{"POST", "/core/update", `{"module":"m","data":{}}`},
		{"POST", "/core/updates", `[{"module":"m","data":{}}]`},
		{"POST", "/api/dead-letters/replay", `{"all":true}`},
		{"POST", "/api/dead-letters/purge", `{"all":true}`},
		{"PUT", "/api/dead-letters/x/data", `{"data":{}}`},
	}
	forged := []struct {
		name string
		hdr  []string
	}{
		{"foreign Origin", []string{"Host", "127.0.0.1:8000", "Origin", "http://evil.example"}},
		{"null Origin", []string{"Host", "127.0.0.1:8000", "Origin", "null"}},
		{"Sec-Fetch-Site cross-site", []string{"Host", "127.0.0.1:8000", "Sec-Fetch-Site", "cross-site"}},
		{"text/plain", []string{"Host", "127.0.0.1:8000", "Content-Type", "text/plain"}},
		{"form", []string{"Host", "127.0.0.1:8000", "Content-Type", "application/x-www-form-urlencoded"}},
	}
	for _, c := range changing {
		for _, fg := range forged {
			t.Run(c.method+" "+c.path+"/"+fg.name, func(t *testing.T) {
				f.do(t, c.method, c.path, c.body, fg.hdr...).want(t, http.StatusForbidden)
			})
		}
		t.Run(c.method+" "+c.path+"/foreign Host", func(t *testing.T) {
			f.do(t, c.method, c.path, c.body, "Host", "evil.example").want(t, http.StatusMisdirectedRequest)
		})
	}
	f.do(t, "GET", "/core/health", "", "Host", "evil.example:8000").want(t, http.StatusMisdirectedRequest)
	f.do(t, "GET", "/core/health", "", "Host", "localhost:8000").want(t, http.StatusOK)
	st := f.stats(t)
	if st.Received != 1 || st.Dead != 1 {
		t.Fatalf("after forged requests: %+v, want the one record, still dead", st)
	}
	// The same origin is welcome.
	f.do(t, "POST", "/api/dead-letters/replay", `{"all":true}`, "Host", "127.0.0.1:8000", "Origin", "http://127.0.0.1:8000",
		"Sec-Fetch-Site", "same-origin").want(t, http.StatusOK)
}

// The dashboard signs in with a token and then uses a cookie: HttpOnly,
// SameSite=Strict; it works for reads and, for an operator, for actions;
// a forged cookie is refused; sign-out drops it. (That a cookie stops
// working when its token leaves the file is auth's TestSessions.)
func TestSessionCookie(t *testing.T) {
	tokens := tableTokens()
	sessions, err := auth.NewSessions(tokens, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, setup{api: api.Config{Auth: tokens, Sessions: sessions}})
	login := func(secret string) string {
		t.Helper()
		r := f.do(t, "POST", "/api/session", `{"token":"`+secret+`"}`)
		r.want(t, http.StatusOK)
		c := r.header.Get("Set-Cookie")
		for _, attr := range []string{auth.SessionCookie + "=", "HttpOnly", "SameSite=Strict", "Path=/"} {
			if !strings.Contains(c, attr) {
				t.Fatalf("Set-Cookie %q lacks %s", c, attr)
			}
		}
		if strings.Contains(c, secret) {
			t.Fatal("the cookie holds the token")
		}
		return strings.Split(c, ";")[0]
	}
	viewer := login("cbt_viewer_secret")
	r := f.do(t, "GET", "/api/session", "", "Cookie", viewer)
	r.want(t, http.StatusOK)
	if m := r.object(t); m["name"] != "viewer" || m["role"] != "viewer" || m["auth"] != "tokens" {
		t.Fatalf("who am I: %v", m)
	}
	f.do(t, "GET", "/core/health", "", "Cookie", viewer).want(t, http.StatusOK)
	f.do(t, "POST", "/api/dead-letters/purge", `{"all":true}`, "Cookie", viewer).want(t, http.StatusForbidden)
	operator := login("cbt_operator_secret")
	f.do(t, "POST", "/api/dead-letters/purge", `{"all":true}`, "Cookie", operator).want(t, http.StatusOK)
	f.do(t, "GET", "/core/health", "", "Cookie", auth.SessionCookie+"=forged.value").want(t, http.StatusUnauthorized)

	// Sign-out drops the cookie.
	r = f.do(t, "DELETE", "/api/session", "", "Cookie", viewer)
	r.want(t, http.StatusOK)
	if c := r.header.Get("Set-Cookie"); !strings.Contains(c, "Max-Age=0") {
		t.Errorf("sign-out Set-Cookie %q does not expire the cookie", c)
	}
}

// Health's security object counts what was refused, by reason.
func TestHealthCountsSecurityEvents(t *testing.T) {
	limits, _ := api.ParseRateLimits("producer-edu=1/1")
	f := newFixtureWith(t, setup{api: api.Config{Auth: tableTokens(), RateLimits: limits, AllowedHosts: []string{"localhost"}}})
	h := []string{"Host", "localhost"}
	edu := append([]string{"Authorization", "Bearer cbt_producer_edu_secret"}, h...)
	f.do(t, "GET", "/core/health", "", h...).want(t, http.StatusUnauthorized)
	f.do(t, "GET", "/core/health", "", "Host", "evil.example").want(t, http.StatusMisdirectedRequest)
	f.do(t, "POST", "/core/update", `{"module":"finance","data":{}}`, edu...).want(t, http.StatusForbidden)
	f.do(t, "POST", "/core/update", `{"module":"education","data":{}}`, edu...).want(t, http.StatusOK)
	f.do(t, "POST", "/core/update", `{"module":"education","data":{}}`, edu...).want(t, http.StatusTooManyRequests)
	f.do(t, "POST", "/core/update", `{"module":"education","data":{}}`, append(edu, "Origin", "http://evil.example")...).want(t, http.StatusForbidden)
	r := f.do(t, "GET", "/core/health", "", append([]string{"Authorization", "Bearer cbt_viewer_secret"}, h...)...)
	r.want(t, http.StatusOK)
	sec, _ := r.object(t)["security"].(map[string]any)
	for k, want := range map[string]int64{"auth_failures_24h": 1, "host_refused_24h": 1, "forbidden_24h": 1, "rate_limited_24h": 1, "cross_site_24h": 1} {
		if got := wantInt(t, sec, k); got != want {
			t.Errorf("security.%s = %d, want %d (%v)", k, got, want, sec)
		}
	}
}
