package dashboard

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// TestDashboardPageWeight: the issue bounds what a browser loads for the
// page (HTML and every asset) at 100 KB uncompressed.
func TestDashboardPageWeight(t *testing.T) {
	d := New(Config{Version: "v1.2.3"})
	if w := d.Weight(); w > 100_000 {
		t.Fatalf("page weight %d bytes, want at most 100,000", w)
	} else {
		t.Logf("page weight: %d bytes", w)
	}
}

var assetRefRE = regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`)

func mux(d *Dashboard) *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("GET /{$}", d.Page())
	m.Handle("GET /assets/{name}", d.Assets())
	return m
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestDashboardAssetsAreHashedAndCached: the page names every asset by a
// hash of its content; the assets are cached for a year, the page never
// without revalidation; every reference resolves; the version is escaped.
func TestDashboardAssetsAreHashedAndCached(t *testing.T) {
	d := New(Config{Version: `v1<script>`})
	m := mux(d)

	page := get(t, m, "/")
	if page.Code != 200 || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %q", page.Code, page.Header().Get("Content-Type"))
	}
	if cc := page.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("page Cache-Control %q, want no-cache", cc)
	}
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("page CSP %q", csp)
	}
	body := page.Body.String()
	if strings.Contains(body, "{{") {
		t.Errorf("page has an unfilled placeholder")
	}
	if strings.Contains(body, "v1<script>") || !strings.Contains(body, "v1&lt;script&gt;") {
		t.Errorf("version not escaped in the page")
	}
	if etag := page.Header().Get("ETag"); etag == "" || get(t, m, "/", "If-None-Match", etag).Code != http.StatusNotModified {
		t.Errorf("page ETag %q does not revalidate", etag)
	}

	refs := assetRefRE.FindAllStringSubmatch(body, -1)
	hashed := regexp.MustCompile(`^/assets/[a-z]+\.[0-9a-f]{12}\.(css|js|svg)$`)
	kinds := map[string]bool{}
	for _, ref := range refs {
		url := ref[1]
		if !hashed.MatchString(url) {
			t.Errorf("asset %s has no content hash in its name", url)
			continue
		}
		kinds[url[strings.LastIndexByte(url, '.')+1:]] = true
		w := get(t, m, url)
		if w.Code != 200 {
			t.Errorf("%s: status %d", url, w.Code)
			continue
		}
		if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", url, cc)
		}
		a := d.assets.byName[strings.TrimPrefix(url, "/assets/")]
		if w.Body.String() != string(a.body) {
			t.Errorf("%s: body differs from the embedded file", url)
		}
		if get(t, m, url, "If-None-Match", w.Header().Get("ETag")).Code != http.StatusNotModified {
			t.Errorf("%s: ETag does not revalidate", url)
		}
	}
	for _, k := range []string{"css", "js", "svg"} {
		if !kinds[k] {
			t.Errorf("page references no .%s asset (refs: %v)", k, refs)
		}
	}
	if w := get(t, m, "/assets/app.000000000000.js"); w.Code != 404 {
		t.Errorf("unknown asset: status %d, want 404", w.Code)
	}
}

// TestDashboardHashFollowsContent: a changed file gets a new name, so a
// browser holding the old one for a year never runs stale code.
func TestDashboardHashFollowsContent(t *testing.T) {
	a := builtAssets().byFile["app.js"]
	other, err := loadAssets(mapFS(map[string]string{"web/index.html": "x", "web/app.js": string(a.body) + "\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if b := other.byFile["app.js"]; b.name == a.name {
		t.Fatalf("a different app.js kept the name %s", a.name)
	}
	same, err := loadAssets(mapFS(map[string]string{"web/index.html": "x", "web/app.js": string(a.body)}))
	if err != nil {
		t.Fatal(err)
	}
	if b := same.byFile["app.js"]; b.name != a.name {
		t.Fatalf("the same app.js got a new name: %s vs %s", b.name, a.name)
	}
	if _, err := loadAssets(mapFS(map[string]string{"web/index.html": "x", "web/notes.txt": "?"})); err == nil {
		t.Fatal("a file of unknown type was accepted as an asset")
	}
}

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, body := range files {
		m[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return m
}
