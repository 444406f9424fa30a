package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"corebridge/internal/bridge"
)

// Entry is one token of the auth file: who it is, what it may do, and the
// hash of its secret (never the secret).
type Entry struct {
	Name    string   `json:"name" yaml:"name"`
	Role    Role     `json:"role" yaml:"role"`
	Modules []string `json:"modules,omitempty" yaml:"modules,omitempty"`
	Hash    string   `json:"hash" yaml:"hash"`
	// Signing keys (see signing.go): with any, the token's requests must
	// be signed unless RequireSignature is explicitly false.
	SigningSecrets   []string `json:"signing_secrets,omitempty" yaml:"signing_secrets,omitempty"`
	SigningKeys      []string `json:"signing_keys,omitempty" yaml:"signing_keys,omitempty"`
	RequireSignature *bool    `json:"require_signature,omitempty" yaml:"require_signature,omitempty"`
}

// MaxFileSize is the largest auth file ParseFile reads. A real one holds a
// few hundred bytes per token; the limit keeps a wrong path (a log, a
// database) from being parsed at length.
const MaxFileSize = 1 << 20

// maxNameLen is the longest token name (a module name's length).
const maxNameLen = bridge.MaxModuleLen

// FieldError is what is wrong with one field of an Entry. Field is the
// file's key: name, role, modules or hash.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks one entry on its own: everything ParseFile checks except
// that names and hashes are unique across the file. The error is a
// *FieldError.
func (e Entry) Validate() error {
	if e.Name == "" {
		return &FieldError{"name", "required"}
	}
	if !validName(e.Name) {
		return &FieldError{"name", fmt.Sprintf("%q: want 1-%d letters, digits, '.', '_' or '-', starting with a letter or digit", e.Name, maxNameLen)}
	}
	if e.Role == "" {
		return &FieldError{"role", "required: producer, viewer, operator or admin"}
	}
	if _, err := ParseRole(string(e.Role)); err != nil {
		return &FieldError{"role", fmt.Sprintf("%q is not a role: want producer, viewer, operator or admin", e.Role)}
	}
	if err := validModules(e.Role, e.Modules); err != nil {
		return err
	}
	if e.Hash == "" {
		return &FieldError{"hash", "required: sha256:<64 lowercase hex digits>, as `corebridge token new` prints it"}
	}
	if !validHash(e.Hash) {
		// The value is not echoed: a secret pasted here by mistake must not
		// end up in a log.
		return &FieldError{"hash", "want sha256:<64 lowercase hex digits>, as `corebridge token new` prints it"}
	}
	return e.validSigning()
}

func validModules(role Role, modules []string) error {
	if role != RoleProducer {
		if len(modules) > 0 {
			return &FieldError{"modules", fmt.Sprintf("only a producer has modules; a %s may not list any", role)}
		}
		return nil
	}
	if len(modules) == 0 {
		return &FieldError{"modules", "required for a producer: the modules it may send, or \"*\" for any"}
	}
	seen := make(map[string]bool, len(modules))
	for _, m := range modules {
		switch {
		case m == "*" && len(modules) > 1:
			return &FieldError{"modules", "\"*\" already means any module: list no others with it"}
		case m != "*" && !bridge.ValidModule(m):
			return &FieldError{"modules", fmt.Sprintf("%q is not a module name (letters, digits, '.', '_', '-'; at most %d) or \"*\"", trunc(m), bridge.MaxModuleLen)}
		case seen[m]:
			return &FieldError{"modules", fmt.Sprintf("%q listed twice", m)}
		}
		seen[m] = true
	}
	return nil
}

// validName is the rule of module names: a token's name goes into logs,
// metrics and audit entries as a module's does.
func validName(s string) bool { return bridge.ValidModule(s) }

func validHash(s string) bool {
	hexPart, ok := strings.CutPrefix(s, hashPrefix)
	if !ok || len(hexPart) != 64 {
		return false
	}
	for i := 0; i < len(hexPart); i++ {
		if c := hexPart[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ParseFile reads an auth file: YAML, or JSON (which YAML reads too), a
// top-level object whose only key is tokens, a list of entries. Every entry
// is validated (see Entry.Validate); names and hashes must be unique, and
// an unknown key is an error so that a typo does not silently drop a
// restriction. Errors name the entry (its index and name) and the field.
//
// The YAML is walked as a node tree rather than decoded into structs: that
// gives each error its entry and field, catches duplicate keys, and refuses
// anchors and aliases, so no input can expand into more work than its size.
func ParseFile(data []byte) ([]Entry, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("auth file: larger than %d bytes; is this the right file?", MaxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("auth file: empty; want an object with tokens: a list of {name, role, modules, hash}")
		}
		return nil, fmt.Errorf("auth file: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("auth file: more than one YAML document; want one")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("auth file: want an object with tokens: a list of {name, role, modules, hash}")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("auth file: line %d: want an object with tokens: a list of {name, role, modules, hash}", root.Line)
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch key := scalarKey(k); {
		case key != "tokens":
			return nil, fmt.Errorf("auth file: line %d: unknown key %q: the only top-level key is tokens", k.Line, trunc(key))
		case list != nil:
			return nil, fmt.Errorf("auth file: line %d: tokens given twice", k.Line)
		default:
			list = v
		}
	}
	if list == nil || list.Kind == yaml.ScalarNode && list.Tag == "!!null" {
		return nil, errors.New("auth file: no tokens: nobody could authenticate")
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("auth file: line %d: tokens: want a list of {name, role, modules, hash}", list.Line)
	}
	if len(list.Content) == 0 {
		return nil, errors.New("auth file: no tokens: nobody could authenticate")
	}
	entries := make([]Entry, 0, len(list.Content))
	names := make(map[string]int, len(list.Content))
	hashes := make(map[string]int, len(list.Content))
	for i, n := range list.Content {
		e, err := parseEntry(n)
		if err == nil {
			err = e.Validate()
		}
		if err == nil {
			if j, dup := names[e.Name]; dup {
				err = &FieldError{"name", fmt.Sprintf("%q already used by tokens[%d]", e.Name, j)}
			} else if j, dup := hashes[e.Hash]; dup {
				err = &FieldError{"hash", fmt.Sprintf("same as tokens[%d] (%q): each token needs its own secret", j, entries[j].Name)}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("auth file: line %d: tokens[%d]%s: %w", n.Line, i, nameSuffix(e.Name), err)
		}
		names[e.Name], hashes[e.Hash] = i, i
		entries = append(entries, e)
	}
	return entries, nil
}

// parseEntry reads one list item into an Entry, refusing what the file
// must not hold: unknown keys, keys given twice, values of the wrong shape.
func parseEntry(n *yaml.Node) (Entry, error) {
	var e Entry
	if n.Kind != yaml.MappingNode {
		return e, errors.New("want an object {name, role, modules, hash}")
	}
	// Read name first, wherever it is, so that every later error can say
	// which token it is about.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if scalarKey(n.Content[i]) == "name" {
			e.Name, _ = scalarValue(n.Content[i+1])
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := scalarKey(k)
		if seen[key] {
			return e, fmt.Errorf("field %q given twice", trunc(key))
		}
		seen[key] = true
		var ok bool
		switch key {
		case "name":
			e.Name, ok = scalarValue(v)
		case "role":
			var s string
			s, ok = scalarValue(v)
			e.Role = Role(s)
		case "hash":
			e.Hash, ok = scalarValue(v)
		case "modules":
			e.Modules, ok = stringList(v)
			if !ok {
				return e, &FieldError{"modules", "want a list of module names, e.g. [education] or [\"*\"]"}
			}
			continue
		case "signing_secrets", "signing_keys":
			l, ok := stringList(v)
			if !ok {
				return e, &FieldError{key, "want a list of strings"}
			}
			if key == "signing_secrets" {
				e.SigningSecrets = l
			} else {
				e.SigningKeys = l
			}
			continue
		case "require_signature":
			b, ok := boolValue(v)
			if !ok {
				return e, &FieldError{key, "want true or false"}
			}
			e.RequireSignature = b
			continue
		case "secret", "token", "password":
			return e, &FieldError{key, "the auth file holds hashes only, never a secret: put the hash that `corebridge token new` prints in hash:, and keep the secret elsewhere"}
		default:
			return e, fmt.Errorf("unknown field %q: want name, role, modules, hash, signing_secrets, signing_keys and require_signature", trunc(key))
		}
		if !ok {
			return e, &FieldError{key, "want a string"}
		}
	}
	return e, nil
}

// scalarKey is a mapping key as text, or "" if it is not a plain scalar
// (which no known key is).
func scalarKey(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// scalarValue is a scalar's text; null counts as absent ("").
func scalarValue(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

func stringList(n *yaml.Node) ([]string, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, ok := scalarValue(c)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// nameSuffix is ` "name"` for an error about a named entry, or "" before
// the name is known.
func nameSuffix(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", trunc(name))
}

// trunc keeps errors about garbage short.
func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// boolValue is a YAML boolean; null counts as absent (nil).
func boolValue(n *yaml.Node) (*bool, bool) {
	if n.Kind != yaml.ScalarNode {
		return nil, false
	}
	switch n.Tag {
	case "!!null":
		return nil, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, false
		}
		return &b, true
	}
	return nil, false
}
