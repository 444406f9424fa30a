package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
)

//go:embed web
var webFS embed.FS

// pageFile is the HTML template; every other file in web/ is an asset.
const pageFile = "index.html"

// asset is one embedded file served under its hashed name.
type asset struct {
	name        string // app.3f2a9c1b04de.js
	body        []byte
	contentType string
	etag        string
}

// assetSet is the embedded files, hashed once.
type assetSet struct {
	template []byte
	byName   map[string]*asset // hashed name → asset
	byFile   map[string]*asset // file name in web/ → asset
}

var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

// builtAssets hashes the embedded files the first time it is called; they
// never change while the program runs.
var builtAssets = sync.OnceValue(func() *assetSet {
	s, err := loadAssets(webFS)
	if err != nil {
		panic(fmt.Sprintf("dashboard: embedded assets: %v", err)) // a build defect, not input
	}
	return s
})

func loadAssets(fsys fs.FS) (*assetSet, error) { return loadAssetsDir(fsys, "web") }

// loadAssetsDir reads dir of fsys: its pageFile is the template, every
// other file an asset under its content-hashed name.
func loadAssetsDir(fsys fs.FS, dir string) (*assetSet, error) {
	s := &assetSet{byName: map[string]*asset{}, byFile: map[string]*asset{}}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		body, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		if e.Name() == pageFile {
			s.template = body
			continue
		}
		ext := path.Ext(e.Name())
		ct, ok := contentTypes[ext]
		if !ok {
			return nil, fmt.Errorf("%s: no content type for %q", e.Name(), ext)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		a := &asset{name: strings.TrimSuffix(e.Name(), ext) + "." + hash + ext, body: body, contentType: ct, etag: `"` + hash + `"`}
		s.byName[a.name], s.byFile[e.Name()] = a, a
	}
	if s.template == nil {
		return nil, fmt.Errorf("no %s", pageFile)
	}
	return s, nil
}

// renderPage fills the template's {{file}} placeholders with the assets'
// hashed URLs and {{version}} with version, and returns the page and its ETag.
func (s *assetSet) renderPage(version string) ([]byte, string) {
	return s.render("/assets/", version)
}

// render is renderPage with the assets' URL prefix.
func (s *assetSet) render(prefix, version string) ([]byte, string) {
	pairs := []string{"{{version}}", html.EscapeString(version)}
	for file, a := range s.byFile {
		pairs = append(pairs, "{{"+file+"}}", prefix+a.name)
	}
	page := []byte(strings.NewReplacer(pairs...).Replace(string(s.template)))
	sum := sha256.Sum256(page)
	return page, `"` + hex.EncodeToString(sum[:8]) + `"`
}

// Weight is the bytes a browser loads for the page: the HTML and every
// asset. The issue bounds it at 100 KB.
func (d *Dashboard) Weight() int {
	n := len(d.page)
	for _, a := range d.assets.byName {
		n += len(a.body)
	}
	return n
}

// Site is another embedded page served the dashboard's way (the API
// reference at /docs): the page revalidated on every load, its assets
// under content-hashed names, cacheable for a year, the same security
// headers.
type Site struct {
	set  *assetSet
	page []byte
	etag string
}

// NewSite reads dir of fsys (index.html and its assets) and renders the
// page with the assets under prefix (where Assets is mounted, e.g.
// "/docs/assets/").
func NewSite(fsys fs.FS, dir, prefix, version string) (*Site, error) {
	set, err := loadAssetsDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	s := &Site{set: set}
	s.page, s.etag = set.render(prefix, version)
	return s, nil
}

// Page serves the page (no-cache, with an ETag).
func (s *Site) Page() http.Handler { return servePage(s.page, s.etag) }

// Assets serves the assets by hashed name (mount at GET prefix{name}).
func (s *Site) Assets() http.Handler { return serveAssets(s.set) }
