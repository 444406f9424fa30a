package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"corebridge/internal/api"
)

// TestDocsPage: /docs is an HTML page that needs no token, names only
// this server's hashed script and stylesheet (served with their types),
// and sends a Content-Security-Policy that allows nothing else; /redoc
// leads to it.
func TestDocsPage(t *testing.T) {
	f := newFixture(t, api.Config{OpenAPIJSON: []byte(`{"openapi":"3.1.0","info":{"title":"corebridge"},"paths":{}}`)})
	r := f.do(t, "GET", "/docs", "")
	if r.code != http.StatusOK {
		t.Fatalf("GET /docs: %d %s", r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/html", ct)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	page := string(r.body)
	if strings.Contains(page, "{{") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the page has an unfilled placeholder or an external URL:\n%s", page)
	}
	links := regexp.MustCompile(`(?:src|href)="(/docs/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	if len(links) != 3 {
		t.Fatalf("the page links %d assets, want its script, stylesheet and icon:\n%s", len(links), page)
	}
	for _, l := range links {
		a := f.do(t, "GET", l[1], "")
		ext := l[1][strings.LastIndex(l[1], "."):]
		if a.code != http.StatusOK || a.header.Get("Content-Type") != types[ext] || len(a.body) == 0 {
			t.Errorf("GET %s: %d %q (%d bytes)", l[1], a.code, a.header.Get("Content-Type"), len(a.body))
		}
		if cc := a.header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("GET %s: Cache-Control %q", l[1], cc)
		}
		if nm := f.do(t, "GET", l[1], "", "If-None-Match", a.header.Get("ETag")); nm.code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", l[1], nm.code)
		}
	}
	if nm := f.do(t, "GET", "/docs", "", "If-None-Match", r.header.Get("ETag")); nm.code != http.StatusNotModified {
		t.Errorf("GET /docs with its ETag: %d, want 304", nm.code)
	}
	if a := f.do(t, "GET", "/docs/assets/docs.000000000000.js", ""); a.code != http.StatusNotFound {
		t.Errorf("an unknown asset: %d, want 404", a.code)
	}
	if rd := f.do(t, "GET", "/redoc", ""); rd.code != http.StatusMovedPermanently || rd.header.Get("Location") != "/docs" {
		t.Errorf("GET /redoc: %d Location %q, want 301 to /docs", rd.code, rd.header.Get("Location"))
	}
}
