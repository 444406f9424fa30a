package corebridge

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"corebridge/internal/api"
)

// openapiDoc returns OpenAPIJSON() decoded.
func openapiDoc(t *testing.T) map[string]any {
	t.Helper()
	b, err := OpenAPIJSON()
	if err != nil {
		t.Fatalf("OpenAPIJSON: %v", err)
	}
	if !json.Valid(b) {
		t.Fatalf("OpenAPIJSON is not valid JSON: %.200s", b)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("OpenAPIJSON is not a JSON object: %v", err)
	}
	return doc
}

// registeredRoutes returns the API's routes as "METHOD /path", with a
// trailing {$} (exact match) dropped, from the server itself. The server
// is built with a dashboard, as serve builds it, so that the dashboard's
// routes (/, /assets/{name}, /api/events and the index at /api) are
// checked too.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	srv := api.NewServer(nil, nil, nil, slog.New(slog.DiscardHandler), api.Config{
		Dashboard: &api.Dashboard{Page: http.NotFoundHandler(), Assets: http.NotFoundHandler(), Events: http.NotFoundHandler()},
	})
	var routes []string
	for _, p := range srv.Patterns() {
		routes = append(routes, strings.TrimSuffix(p, "{$}"))
	}
	if len(routes) == 0 {
		t.Fatal("the API registers no routes")
	}
	return routes
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func TestOpenAPIDocument(t *testing.T) {
	doc := openapiDoc(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] != "corebridge" || info["version"] == nil || info["description"] == nil {
		t.Errorf("info lacks title corebridge, version or description: %v", info)
	}
}

// TestOpenAPICoversRoutes: every route registered in internal/api/routes.go
// is documented with its method, and nothing else is.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := openapiDoc(t)
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("document has no paths object")
	}
	routes := registeredRoutes(t)
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		item, _ := paths[path].(map[string]any)
		if op, _ := item[strings.ToLower(method)].(map[string]any); op == nil {
			t.Errorf("route %s is not documented: paths[%q][%q] missing", r, path, strings.ToLower(method))
		} else if resp, _ := op["responses"].(map[string]any); len(resp) == 0 {
			t.Errorf("route %s documents no responses", r)
		}
	}
	for path, v := range paths {
		item, _ := v.(map[string]any)
		for _, m := range httpMethods {
			if _, ok := item[m]; ok && !slices.Contains(routes, strings.ToUpper(m)+" "+path) {
				t.Errorf("%s %s is documented but not registered in internal/api/routes.go", strings.ToUpper(m), path)
			}
		}
	}
}

// TestOpenAPIRefsResolve: every $ref points at an existing component.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := openapiDoc(t)
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "$ref" {
					refs = append(refs, s)
				} else {
					walk(e)
				}
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	if len(refs) == 0 {
		t.Fatal("document has no $ref: components are not used")
	}
	for _, ref := range refs {
		if !strings.HasPrefix(ref, "#/components/") {
			t.Errorf("$ref %q does not point into #/components/", ref)
			continue
		}
		var cur any = doc
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[tok]
		}
		if cur == nil {
			t.Errorf("$ref %q does not resolve", ref)
		}
	}
}

// TestOpenAPIOperationIDsUnique: generated clients need distinct names.
func TestOpenAPIOperationIDsUnique(t *testing.T) {
	doc := openapiDoc(t)
	paths, _ := doc["paths"].(map[string]any)
	seen := map[string]string{}
	for path, v := range paths {
		item, _ := v.(map[string]any)
		for _, m := range httpMethods {
			op, _ := item[m].(map[string]any)
			if op == nil {
				continue
			}
			id, _ := op["operationId"].(string)
			where := strings.ToUpper(m) + " " + path
			if id == "" {
				t.Errorf("%s has no operationId", where)
			} else if prev, dup := seen[id]; dup {
				t.Errorf("operationId %q used by %s and %s", id, prev, where)
			}
			seen[id] = where
		}
	}
}
