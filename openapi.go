// Package corebridge holds what the repository embeds from its root: the
// OpenAPI document that docs/openapi.yaml keeps and /openapi.json serves.
package corebridge

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

//go:embed docs/openapi.yaml
var openapiYAML []byte

// OpenAPIJSON returns docs/openapi.yaml converted to JSON.
func OpenAPIJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		return nil, fmt.Errorf("parse docs/openapi.yaml: %w", err)
	}
	return json.Marshal(jsonable(doc))
}

// jsonable turns YAML's maps (whose keys may be numbers, like status codes)
// into maps with string keys.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonable(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonable(e)
		}
		return v
	}
	return v
}
