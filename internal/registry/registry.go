package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"corebridge/internal/bridge"
)

// FieldError is one validation problem in the FastAPI shape the API
// answers with (bridge.FieldError).
type FieldError = bridge.FieldError

// MaxFieldErrors bounds the problems Validate reports for one record: a
// large record that matches nothing would otherwise answer with one
// error per value.
const MaxFieldErrors = 50

// TypeModuleUnknown is the FieldError type of a module not in the registry.
const TypeModuleUnknown = "module_unknown"

// Registry is the list of known modules, their compiled schemas and
// settings. It never changes once built, so it is safe for concurrent
// use. A nil *Registry is "no registry": every module is known, any data
// object is valid, and no module has settings of its own.
type Registry struct {
	mods  map[string]*module
	names []string // sorted
}

type module struct {
	spec   ModuleSpec
	schema *jsonschema.Schema // nil: any object
}

// Settings are a module's own settings from the registry.
type Settings struct {
	// SilenceMaxGap, when > 0, is how long the module may stay silent
	// (no record and no heartbeat) before it is flagged.
	SilenceMaxGap time.Duration
	// StrictOrder, when not nil, says whether a dead record of the
	// module blocks its later ones, whatever --strict-order says in
	// general.
	StrictOrder *bool
	// HasSchema says whether the module's data is checked against a schema.
	HasSchema bool
}

// New builds the registry of specs: every schema compiled (as draft
// 2020-12 unless it names another with $schema; "format" is asserted;
// a $ref can only point inside the schema itself or to the standard
// metaschemas, never to a file or URL). An error names the module and
// the problem: an invalid or duplicate name, a schema that is not JSON
// or not a valid schema. No specs at all is no registry: New returns a
// nil *Registry, which knows every module.
func New(specs []ModuleSpec) (*Registry, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	r := &Registry{mods: make(map[string]*module, len(specs))}
	var errs []error
	for i, sp := range specs {
		switch {
		case sp.Name == "":
			errs = append(errs, fmt.Errorf("modules[%d]: no name", i))
			continue
		case !bridge.ValidModule(sp.Name):
			errs = append(errs, fmt.Errorf("module %q: invalid name: it must match %s", sp.Name, bridge.ModulePattern))
			continue
		case r.mods[sp.Name] != nil:
			errs = append(errs, fmt.Errorf("module %q: listed twice", sp.Name))
			continue
		}
		if sp.SilenceMaxGap < 0 {
			errs = append(errs, fmt.Errorf("module %q: silence max gap %s is negative", sp.Name, sp.SilenceMaxGap))
		}
		m := &module{spec: sp}
		if len(bytes.TrimSpace(sp.Schema)) > 0 && !isNull(sp.Schema) {
			sch, err := compile(sp.Name, sp.Schema)
			if err != nil {
				errs = append(errs, fmt.Errorf("module %q: schema: %w", sp.Name, err))
			}
			m.schema = sch
		}
		m.spec.Schema = slices.Clone(sp.Schema)
		r.mods[sp.Name] = m
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r.names = slices.Sorted(maps.Keys(r.mods))
	return r, nil
}

// noLoader refuses every external $ref: a registry's schemas are
// self-contained, and compiling one must not read files or the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("$ref to %s: a module's schema cannot refer to files or URLs, only inside itself ($defs)", url)
}

func compile(name string, raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	switch doc.(type) {
	case map[string]any, bool:
	default:
		return nil, errors.New("a schema is a JSON object (or true/false)")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	loc := "urn:corebridge:module:" + name
	if err := c.AddResource(loc, doc); err != nil {
		return nil, oneLine(err, loc)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, oneLine(err, loc)
	}
	return sch, nil
}

// oneLine flattens the compiler's multi-line messages (the metaschema's
// findings, one per line) for a config error.
// The schema's internal name and the metaschema's own grouping say
// nothing to the operator, and are left out.
func oneLine(err error, loc string) error {
	msg := strings.ReplaceAll(err.Error(), `"`+loc+`#" is not valid against metaschema`, "not a valid JSON Schema")
	msg = strings.ReplaceAll(msg, loc, "the schema")
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "- "))
	}
	return errors.New(strings.Join(slices.DeleteFunc(lines, func(s string) bool {
		return s == "" || s == "at '': 'allOf' failed" || s == "at '': validation failed"
	}), "; "))
}

func isNull(b []byte) bool { return string(bytes.TrimSpace(b)) == "null" }

// Known says whether module is in the registry (always, with no registry).
func (r *Registry) Known(module string) bool {
	if r == nil {
		return true
	}
	_, ok := r.mods[module]
	return ok
}

// Names lists the registry's modules, sorted (nil with no registry).
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.names)
}

// Len is how many modules the registry holds (0 with no registry).
func (r *Registry) Len() int {
	if r == nil {
		return 0
	}
	return len(r.names)
}

// Settings returns module's own settings, and whether it is in the
// registry.
func (r *Registry) Settings(module string) (Settings, bool) {
	if r == nil {
		return Settings{}, false
	}
	m, ok := r.mods[module]
	if !ok {
		return Settings{}, false
	}
	s := Settings{SilenceMaxGap: m.spec.SilenceMaxGap, HasSchema: m.schema != nil}
	if p := m.spec.StrictOrder; p != nil {
		v := *p
		s.StrictOrder = &v
	}
	return s, true
}

// UnknownModule is the field error of a module not in the registry, at
// loc (the `module` field of an update or heartbeat).
func (r *Registry) UnknownModule(module string, loc []any) FieldError {
	return FieldError{Loc: loc, Type: TypeModuleUnknown, Msg: fmt.Sprintf("module %q is not in the registry: known modules are %s", module, r.knownList())}
}

// knownList names the known modules for a message, at most 20 of them.
func (r *Registry) knownList() string {
	const most = 20
	if len(r.names) <= most {
		return strings.Join(r.names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(r.names[:most], ", "), len(r.names)-most)
}

// Validate checks an update of module with data, as the body of POST
// /core/update has them: a module not in the registry is one error at
// ["body","module"]; data that does not match the module's schema an
// error per problem, at its JSON path under ["body","data"] (a failing
// property "score": ["body","data","score"]; array items by index).
// None: nil. With no registry, nothing is checked.
func (r *Registry) Validate(module string, data json.RawMessage) []FieldError {
	return r.Check(module, data, []any{"body"})
}

// Check is Validate for an update found at loc in the request (["body"]
// for a single update, ["body","updates",i] for an item of a batch).
func (r *Registry) Check(module string, data json.RawMessage, loc []any) []FieldError {
	if r == nil {
		return nil
	}
	at := func(more ...any) []any { return append(slices.Clip(loc), more...) }
	m, ok := r.mods[module]
	if !ok {
		return []FieldError{r.UnknownModule(module, at("module"))}
	}
	if m.schema == nil {
		return nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return []FieldError{{Loc: at("data"), Msg: "Input should be a valid dictionary", Type: "dict_type"}}
	}
	err = m.schema.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []FieldError{{Loc: at("data"), Msg: err.Error(), Type: "schema_error"}}
	}
	var out []FieldError
	collect(ve, inst, at("data"), &out)
	if len(out) == 0 { // cannot happen: a failed validation has a leaf
		out = append(out, FieldError{Loc: at("data"), Msg: ve.Error(), Type: "schema_error"})
	}
	// The validator walks properties in map order: sort for a stable answer.
	slices.SortStableFunc(out, func(a, b FieldError) int {
		if c := strings.Compare(locKey(a.Loc), locKey(b.Loc)); c != 0 {
			return c
		}
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Msg, b.Msg)
	})
	out = slices.CompactFunc(out, func(a, b FieldError) bool {
		return a.Type == b.Type && a.Msg == b.Msg && locKey(a.Loc) == locKey(b.Loc)
	})
	if len(out) > MaxFieldErrors {
		out = out[:MaxFieldErrors]
	}
	return out
}

var printer = message.NewPrinter(language.English)

// collect turns the validator's tree of errors into field errors: one
// per leaf, and one for an anyOf/oneOf that failed (listing every
// branch's problems would say more about the schema than the data).
func collect(e *jsonschema.ValidationError, inst any, base []any, out *[]FieldError) {
	if len(*out) >= 4*MaxFieldErrors {
		return
	}
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		*out = append(*out, leaf(e, inst, base)...)
		return
	}
	if len(e.Causes) == 0 {
		*out = append(*out, leaf(e, inst, base)...)
		return
	}
	for _, c := range e.Causes {
		collect(c, inst, base, out)
	}
}

// leaf is the field errors of one validator error, in pydantic's words
// where there are some: a missing required property is "Field required"
// at the property, an extra one "Extra inputs are not permitted" at it.
func leaf(e *jsonschema.ValidationError, inst any, base []any) []FieldError {
	loc := instanceLoc(inst, e.InstanceLocation, base)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		out := make([]FieldError, 0, len(k.Missing))
		for _, p := range k.Missing {
			out = append(out, FieldError{Loc: append(slices.Clip(loc), p), Msg: "Field required", Type: "missing"})
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]FieldError, 0, len(k.Properties))
		for _, p := range k.Properties {
			out = append(out, FieldError{Loc: append(slices.Clip(loc), p), Msg: "Extra inputs are not permitted", Type: "extra_forbidden"})
		}
		return out
	}
	if _, ok := e.ErrorKind.(*kind.AnyOf); ok {
		return []FieldError{{Loc: loc, Msg: "Input should match at least one of the schemas of anyOf", Type: "schema_anyOf"}}
	}
	typ := "schema"
	if kw := e.ErrorKind.KeywordPath(); len(kw) > 0 {
		typ = "schema_" + kw[len(kw)-1]
	}
	return []FieldError{{Loc: loc, Msg: e.ErrorKind.LocalizedString(printer), Type: typ}}
}

// instanceLoc turns a JSON pointer's tokens into a loc under base: array
// indexes as numbers, as FastAPI gives them.
func instanceLoc(inst any, tokens []string, base []any) []any {
	loc := slices.Clip(base)
	v := inst
	for _, t := range tokens {
		switch x := v.(type) {
		case []any:
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(x) {
				loc = append(loc, i)
				v = x[i]
				continue
			}
			v = nil
		case map[string]any:
			v = x[t]
		default:
			v = nil
		}
		loc = append(loc, t)
	}
	return loc
}

func locKey(loc []any) string {
	var sb strings.Builder
	for _, p := range loc {
		switch x := p.(type) {
		case int:
			fmt.Fprintf(&sb, "\x00%010d", x)
		default:
			fmt.Fprintf(&sb, "\x00%v", x)
		}
	}
	return sb.String()
}

// SilenceMaxGaps merges the registry's per-module silence max gaps into
// those of --silence-max-gap (flag): a module the flag names keeps the
// flag's gap (the command line overrides the file). The result is a new
// map; with no registry it is a copy of flag.
func (r *Registry) SilenceMaxGaps(flag map[string]time.Duration) map[string]time.Duration {
	out := maps.Clone(flag)
	if r == nil {
		return out
	}
	for _, name := range r.names {
		g := r.mods[name].spec.SilenceMaxGap
		if g <= 0 {
			continue
		}
		if _, ok := flag[name]; ok {
			continue
		}
		if out == nil {
			out = map[string]time.Duration{}
		}
		out[name] = g
	}
	return out
}

// StrictOrder merges the registry's per-module strict order into
// --strict-order (flag): a module with strict order true joins it; one
// with false leaves "all" (which then becomes the list of every other
// registry module: with a registry, no other module can send). A module
// the flag names by name keeps strict order (the command line overrides
// the file).
func (r *Registry) StrictOrder(flag bridge.StrictOrder) bridge.StrictOrder {
	if r == nil {
		return bridge.StrictOrder{All: flag.All, Modules: slices.Clone(flag.Modules)}
	}
	out := bridge.StrictOrder{All: flag.All, Modules: slices.Clone(flag.Modules)}
	if flag.All {
		anyOff := false
		for _, name := range r.names {
			if p := r.mods[name].spec.StrictOrder; p != nil && !*p {
				anyOff = true
			}
		}
		if !anyOff {
			return out
		}
		out.All, out.Modules = false, nil
		for _, name := range r.names {
			if p := r.mods[name].spec.StrictOrder; p == nil || *p {
				out.Modules = append(out.Modules, name)
			}
		}
		return out
	}
	for _, name := range r.names {
		if p := r.mods[name].spec.StrictOrder; p != nil && *p && !slices.Contains(out.Modules, name) {
			out.Modules = append(out.Modules, name)
		}
	}
	slices.Sort(out.Modules)
	return out
}
