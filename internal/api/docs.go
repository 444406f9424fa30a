package api

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
)

// The API reference at /docs: one embedded page, its script and
// stylesheet (no CDN, works offline), which reads /openapi.json and
// renders every operation. FastAPI serves its reference at /docs, so that
// is where the prototype's users look first; /redoc leads there too.

//go:embed docsweb
var docsFS embed.FS

// docsPageFile is the page template; the other files of docsweb/ are its
// assets, served under content-hashed names.
const docsPageFile = "index.html"

type docsAsset struct {
	body        []byte
	contentType string
	etag        string
}

type docsSite struct {
	page   []byte
	etag   string
	assets map[string]docsAsset // hashed name → asset
}

var docsContentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

// builtDocs hashes the embedded files once; they never change while the
// program runs.
var builtDocs = sync.OnceValue(func() *docsSite {
	s, err := loadDocs(docsFS)
	if err != nil {
		panic(fmt.Sprintf("api: embedded docs page: %v", err)) // a build defect, not input
	}
	return s
})

func loadDocs(fsys fs.FS) (*docsSite, error) {
	entries, err := fs.ReadDir(fsys, "docsweb")
	if err != nil {
		return nil, err
	}
	s := &docsSite{assets: map[string]docsAsset{}}
	var template []byte
	var pairs []string
	for _, e := range entries {
		body, err := fs.ReadFile(fsys, "docsweb/"+e.Name())
		if err != nil {
			return nil, err
		}
		if e.Name() == docsPageFile {
			template = body
			continue
		}
		ext := path.Ext(e.Name())
		ct, ok := docsContentTypes[ext]
		if !ok {
			return nil, fmt.Errorf("%s: no content type for %q", e.Name(), ext)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		name := strings.TrimSuffix(e.Name(), ext) + "." + hash + ext
		s.assets[name] = docsAsset{body: body, contentType: ct, etag: `"` + hash + `"`}
		pairs = append(pairs, "{{"+e.Name()+"}}", "/docs/assets/"+name)
	}
	if template == nil {
		return nil, fmt.Errorf("no %s", docsPageFile)
	}
	s.page = []byte(strings.NewReplacer(pairs...).Replace(string(template)))
	sum := sha256.Sum256(s.page)
	s.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	return s, nil
}

// docsSecurityHeaders: the page loads only this server's script, style
// and /openapi.json.
func docsSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// handleDocs is GET /docs: the API reference page. Like the dashboard's
// page it holds no data and is revalidated every time.
func handleDocs() http.Handler {
	site := builtDocs()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		docsSecurityHeaders(h)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", site.etag)
		if r.Header.Get("If-None-Match") == site.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write(site.page)
	})
}

// handleDocsAsset is GET /docs/assets/{name}: the page's script and
// stylesheet under content-hashed names, cacheable for a year.
func handleDocsAsset() http.Handler {
	site := builtDocs()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := site.assets[r.PathValue("name")]
		if !ok {
			http.Error(w, "no such asset", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(a.body)
	})
}

// handleRedoc is GET /redoc, FastAPI's other reference page: it leads to
// /docs.
func handleRedoc() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/docs", http.StatusMovedPermanently)
	})
}
