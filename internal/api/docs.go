package api

import (
	"embed"
	"fmt"
	"net/http"
	"sync"

	"corebridge/internal/dashboard"
)

// The API reference at /docs: one embedded page, its script and
// stylesheet (no CDN, works offline), which reads /openapi.json and
// renders every operation. FastAPI serves its reference at /docs, so that
// is where the prototype's users look first; /redoc leads there too. It is
// served the dashboard's way (dashboard.Site): the page revalidated, the
// assets under content-hashed names, the same security headers.

//go:embed docsweb
var docsFS embed.FS

// builtDocs hashes the embedded files once; they never change while the
// program runs.
var builtDocs = sync.OnceValue(func() *dashboard.Site {
	s, err := dashboard.NewSite(docsFS, "docsweb", "/docs/assets/", "")
	if err != nil {
		panic(fmt.Sprintf("api: embedded docs page: %v", err)) // a build defect, not input
	}
	return s
})

// handleDocs is GET /docs: the API reference page. Like the dashboard's
// page it holds no data and is revalidated every time.
func handleDocs() http.Handler { return builtDocs().Page() }

// handleDocsAsset is GET /docs/assets/{name}: the page's script and
// stylesheet under content-hashed names, cacheable for a year.
func handleDocsAsset() http.Handler { return builtDocs().Assets() }

// handleRedoc is GET /redoc, FastAPI's other reference page: it leads to
// /docs.
func handleRedoc() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/docs", http.StatusMovedPermanently)
	})
}
