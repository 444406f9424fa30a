package main

// The config file of serve (issue 19): `serve --config corebridge.yaml`
// (or COREBRIDGE_CONFIG). It sets serve's flags by name, and lists the
// known modules under `modules:`; `corebridge config check` validates one
// and prints the effective configuration.
//
// The mapping rule: a key is a flag's name without its dashes in front
// (`data-dir: /var/lib/corebridge` is --data-dir). A key may also be a
// section whose keys continue the name: the nested key a.b is the flag
// a-b, so `bucket: {url: …, token-file: …}` sets --bucket-url and
// --bucket-token-file, and `postgres: {url: …, pool: 8}` sets
// --postgres-url and --postgres-pool. A list flag (--allowed-hosts,
// --open-probes, --strict-order) takes a YAML list or the comma-separated
// string; --bucket-header a list of 'Name: value'; --silence-max-gap a
// mapping of module to duration. A key that is no flag, a value of the
// wrong type or a bad value is an error that names the key and its line.
//
// Precedence: the command line, then the environment, then the file,
// then the flag's default.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
	"corebridge/internal/registry"
)

// configFlag defines --config on serve's flag set.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "read settings and the modules: section from this YAML file (deploy/corebridge.example.yaml); the command line and the environment win over it")
}

// parseServe parses serve's command line, its environment and its config
// file, in that order of precedence, and says where each flag's value came
// from (every flag has a source, "default" for the others).
func parseServe(fs *flag.FlagSet, cfg *serveConfig, configPath *string, args []string, e env) (map[string]source, error) {
	srcs, err := parseSources(fs, args, e)
	if err != nil {
		return nil, err
	}
	if *configPath != "" {
		mods, err := loadConfigFile(*configPath, fs, srcs)
		if err != nil {
			return nil, err
		}
		cfg.modules = mods
	}
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := srcs[f.Name]; !ok {
			srcs[f.Name] = source{kind: "default"}
		}
	})
	return srcs, nil
}

// configErrors are the problems of one config file, each naming its key
// and line; exit 2.
type configErrors struct {
	path string
	errs []string
}

func (c *configErrors) add(line int, key, format string, a ...any) {
	where := c.path
	if line > 0 {
		where = fmt.Sprintf("%s:%d", c.path, line)
	}
	if key != "" {
		where += ": " + key
	}
	c.errs = append(c.errs, where+": "+fmt.Sprintf(format, a...))
}

func (c *configErrors) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	if len(c.errs) == 1 {
		return usageError{"config " + c.errs[0]}
	}
	return usageError{fmt.Sprintf("config %s: %d problems:\n  %s", c.path, len(c.errs), strings.Join(c.errs, "\n  "))}
}

// loadConfigFile reads the config file at path, sets every flag of fs it
// names that srcs does not hold yet (the command line and the environment
// win), recording them in srcs, and returns its modules.
func loadConfigFile(path string, fs *flag.FlagSet, srcs map[string]source) ([]registry.ModuleSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Sprintf("config %s: %v", path, err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, usageError{fmt.Sprintf("config %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	ce := &configErrors{path: path}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // an empty file sets nothing
	}
	root := deref(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		ce.add(root.Line, "", "want a mapping of settings (data-dir: …, bucket: {url: …}, modules: …)")
		return nil, ce.err()
	}
	// scratch checks the values the command line or the environment
	// override: a bad one is an error even then.
	scratch := flag.NewFlagSet("serve", flag.ContinueOnError)
	serveFlags(scratch)
	l := &configLoader{path: path, fs: fs, scratch: scratch, srcs: srcs, ce: ce, seen: map[string]int{}}
	var mods []registry.ModuleSpec
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		switch k.Value {
		case "modules":
			if line, dup := l.seen["modules"]; dup {
				ce.add(k.Line, "modules", "given twice (first at line %d)", line)
				continue
			}
			l.seen["modules"] = k.Line
			mods = l.modules(v)
		case "config":
			ce.add(k.Line, "config", "a config file cannot name another; give --config on the command line")
		default:
			l.key(k, v, "", "")
		}
	}
	return mods, ce.err()
}

type configLoader struct {
	path    string
	fs      *flag.FlagSet
	scratch *flag.FlagSet // serve's flags again, to check values that are overridden
	srcs    map[string]source
	ce      *configErrors
	seen    map[string]int // flag → line of the key that set it
}

// deref follows a YAML alias (*name) to what it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isSection says whether name is the start of some flag's name (name-…).
func (l *configLoader) isSection(name string) bool {
	found := false
	l.fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, name+"-") && f.Name != "config" {
			found = true
		}
	})
	return found
}

// key handles the key k with value v inside the section prefix (a flag
// name's start, "" at the top); keyPath is prefix as the file spells it
// (bucket.url).
func (l *configLoader) key(k, v *yaml.Node, prefix, keyPath string) {
	if k.Kind != yaml.ScalarNode || k.Value == "" {
		l.ce.add(k.Line, keyPath, "a key must be a flag's name")
		return
	}
	name, path := k.Value, k.Value
	if prefix != "" {
		name, path = prefix+"-"+k.Value, keyPath+"."+k.Value
	}
	name = strings.TrimLeft(name, "-")
	f := l.fs.Lookup(name)
	if name == "config" {
		f = nil
	}
	_, mapFlag := flagValue(f).(*gapList)
	if v.Kind == yaml.MappingNode && l.isSection(name) && !mapFlag {
		for i := 0; i+1 < len(v.Content); i += 2 {
			l.key(v.Content[i], deref(v.Content[i+1]), name, path)
		}
		return
	}
	if f == nil {
		if l.isSection(name) {
			l.ce.add(k.Line, path, "is a section: give its keys (e.g. %s: {%s: …})", k.Value, l.sectionExample(name))
			return
		}
		l.ce.add(k.Line, path, "unknown key: no serve flag --%s (see corebridge serve --help)", name)
		return
	}
	if line, dup := l.seen[name]; dup {
		l.ce.add(k.Line, path, "sets --%s again (first at line %d)", name, line)
		return
	}
	l.seen[name] = k.Line
	vals, err := nodeValues(f, v)
	if err != nil {
		l.ce.add(v.Line, path, "%v", err)
		return
	}
	target := f.Value
	_, overridden := l.srcs[name] // the command line or the environment wins
	if overridden {
		target = l.scratch.Lookup(name).Value // the file's value is still checked
	}
	for _, s := range vals {
		if err := target.Set(s); err != nil {
			l.ce.add(v.Line, path, "%q: %s", s, wantsText(f, err))
			return
		}
	}
	if !overridden {
		l.srcs[name] = source{kind: "file", where: fmt.Sprintf("%s:%d", l.path, k.Line)}
	}
}

// sectionExample is the first key of section name, for a hint.
func (l *configLoader) sectionExample(name string) string {
	var first string
	l.fs.VisitAll(func(f *flag.Flag) {
		if first == "" && strings.HasPrefix(f.Name, name+"-") {
			first = strings.TrimPrefix(f.Name, name+"-")
		}
	})
	return first
}

func flagValue(f *flag.Flag) flag.Value {
	if f == nil {
		return nil
	}
	return f.Value
}

// nodeValues turns the YAML value of flag f into the strings its Set
// takes, in order: one for a scalar; one comma-separated for a list flag
// given a list, or one per item for the repeatable --bucket-header; one
// module=duration list for --silence-max-gap given a mapping.
func nodeValues(f *flag.Flag, v *yaml.Node) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, fmt.Errorf("has no value; want %s (or remove the key; \"\" for empty)", wants(f))
		}
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		var items []string
		for _, it := range v.Content {
			it = deref(it)
			if it.Kind != yaml.ScalarNode || it.Tag == "!!null" {
				return nil, fmt.Errorf("line %d: a list item must be a plain value", it.Line)
			}
			items = append(items, it.Value)
		}
		switch f.Value.(type) {
		case *headerFlag:
			return items, nil
		case *listFlag, *moduleList, *bridge.StrictOrder, *gapList:
			return []string{strings.Join(items, ",")}, nil
		}
		return nil, fmt.Errorf("wants %s, not a list", wants(f))
	case yaml.MappingNode:
		if _, ok := f.Value.(*gapList); ok {
			var pairs []string
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, d := v.Content[i], deref(v.Content[i+1])
				if d.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("%s: want a duration such as 10m", k.Value)
				}
				pairs = append(pairs, k.Value+"="+d.Value)
			}
			return []string{strings.Join(pairs, ",")}, nil
		}
		return nil, fmt.Errorf("wants %s, not a mapping", wants(f))
	}
	return nil, fmt.Errorf("wants %s", wants(f))
}

// modules reads the modules: section, a mapping of name to settings or a
// list of settings with a name:
//
//	modules:
//	  finance:
//	    schema-file: schemas/finance.json   # relative to the config file
//	    silence-max-gap: 10m
//	    strict-order: true
//	  education: {}
func (l *configLoader) modules(v *yaml.Node) []registry.ModuleSpec {
	var out []registry.ModuleSpec
	names := map[string]int{}
	add := func(spec registry.ModuleSpec, line int, key string) {
		if first, dup := names[spec.Name]; dup {
			l.ce.add(line, key, "module %q given twice (first at line %d)", spec.Name, first)
			return
		}
		names[spec.Name] = line
		out = append(out, spec)
	}
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag != "!!null" {
			l.ce.add(v.Line, "modules", "want a mapping of module name to its settings, or a list of modules with name:")
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, m := v.Content[i], deref(v.Content[i+1])
			key := "modules." + k.Value
			if spec, ok := l.module(k.Value, k.Line, m, key, false); ok {
				add(spec, k.Line, key)
			}
		}
	case yaml.SequenceNode:
		for i, it := range v.Content {
			it = deref(it)
			key := fmt.Sprintf("modules[%d]", i)
			if spec, ok := l.module("", it.Line, it, key, true); ok {
				add(spec, it.Line, key)
			}
		}
	default:
		l.ce.add(v.Line, "modules", "want a mapping of module name to its settings, or a list of modules with name:")
	}
	return out
}

// module reads one module's settings m (a mapping, or nothing in the
// mapping form); named says that its name is in m (the list form).
func (l *configLoader) module(name string, line int, m *yaml.Node, key string, named bool) (registry.ModuleSpec, bool) {
	spec := registry.ModuleSpec{Name: name}
	ok := true
	bad := func(line int, key, format string, a ...any) {
		l.ce.add(line, key, format, a...)
		ok = false
	}
	switch {
	case m.Kind == yaml.ScalarNode && m.Tag == "!!null" && !named:
		// finance: (no settings)
	case m.Kind != yaml.MappingNode:
		bad(m.Line, key, "want a mapping of the module's settings (name, schema or schema-file, silence-max-gap, strict-order)")
		return spec, false
	}
	var schemaLine int
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		fk := key + "." + k.Value
		switch k.Value {
		case "name":
			if !named {
				bad(k.Line, fk, "the module's name is its key here; name: belongs to the list form (- name: finance)")
				continue
			}
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				bad(v.Line, fk, "want the module's name")
				continue
			}
			spec.Name = v.Value
		case "schema":
			if schemaLine > 0 {
				bad(k.Line, fk, "give schema or schema-file, not both")
				continue
			}
			schemaLine = k.Line
			raw, err := schemaJSON(v)
			if err != nil {
				bad(v.Line, fk, "%v", err)
				continue
			}
			spec.Schema = raw
		case "schema-file":
			if schemaLine > 0 {
				bad(k.Line, fk, "give schema or schema-file, not both")
				continue
			}
			schemaLine = k.Line
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || v.Value == "" {
				bad(v.Line, fk, "want the path of a JSON Schema file")
				continue
			}
			p := v.Value
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(l.path), p)
			}
			raw, err := schemaFile(p)
			if err != nil {
				bad(v.Line, fk, "%v", err)
				continue
			}
			spec.Schema = raw
		case "silence-max-gap":
			d, err := time.ParseDuration(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || d <= 0 {
				bad(v.Line, fk, "want a positive duration such as 10m, not %q", v.Value)
				continue
			}
			spec.SilenceMaxGap = d
		case "strict-order":
			var b bool
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&b) != nil {
				bad(v.Line, fk, "want true or false, not %q", v.Value)
				continue
			}
			spec.StrictOrder = &b
		default:
			bad(k.Line, fk, "unknown key (a module takes name, schema or schema-file, silence-max-gap, strict-order)")
		}
	}
	if spec.Name == "" {
		bad(line, key, "the module has no name:")
	} else if !bridge.ValidModule(spec.Name) {
		bad(line, key, "%q is not a valid module name", spec.Name)
	}
	return spec, ok
}

// schemaJSON is an inline schema (YAML) as JSON: an object, or true/false.
func schemaJSON(v *yaml.Node) (json.RawMessage, error) {
	if v.Kind != yaml.MappingNode && !(v.Kind == yaml.ScalarNode && v.Tag == "!!bool") {
		return nil, errors.New("want a JSON Schema written as YAML (a mapping such as {type: object, required: [id]}), or a schema-file")
	}
	var x any
	if err := v.Decode(&x); err != nil {
		return nil, fmt.Errorf("not a schema: %v", err)
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("cannot be written as JSON (keys must be strings): %v", err)
	}
	return b, nil
}

// schemaFile reads a JSON Schema file (JSON, or YAML).
func schemaFile(path string) (json.RawMessage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if json.Valid(data) {
		var c bytes.Buffer
		if err := json.Compact(&c, data); err != nil {
			return nil, err
		}
		if b := bytes.TrimSpace(c.Bytes()); len(b) == 0 || (b[0] != '{' && string(b) != "true" && string(b) != "false") {
			return nil, fmt.Errorf("%s: a schema is a JSON object (or true/false)", path)
		}
		return c.Bytes(), nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: neither JSON nor YAML", path)
	}
	raw, err := schemaJSON(deref(doc.Content[0]))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return raw, nil
}

// runConfig is `corebridge config check`.
func runConfig(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		w := e.stdout
		if len(args) == 0 {
			w = e.stderr
		}
		fmt.Fprintln(w, "Usage: corebridge config check [--config FILE] [serve's flags]\n\n"+
			"  check  validate serve's config file and print the effective configuration\n\n"+
			"Run 'corebridge config check --help' for its flags.")
		if len(args) == 0 {
			return usageError{"config: no subcommand given (check); see corebridge config --help"}
		}
		return nil
	}
	if args[0] != "check" {
		return usageError{fmt.Sprintf("config: unknown subcommand %q (check); see corebridge config --help", args[0])}
	}
	fs := newFlagSet("config check", "Validate serve's config file (--config, or COREBRIDGE_CONFIG) with the environment and\n"+
		"the flags given here, exactly as serve would read them, and print the effective\n"+
		"configuration: every serve flag, its value and where it came from (flag, env,\n"+
		"file or default), secrets redacted, then the modules. Exit 0 when valid, 2 on\n"+
		"any problem, naming the key and its line. It reads no file the config names\n"+
		"(tokens, certificates) but the modules' schema files.", e)
	cfg := serveFlags(fs)
	cfg.getenv = e.getenv
	path := configFlag(fs)
	srcs, err := parseServe(fs, cfg, path, args[1:], e)
	if err != nil {
		return err
	}
	if err := checkServeConfig(cfg); err != nil { // also builds the registry of modules
		return usageError{"config check: " + annotateFlags(err.Error(), srcs)}
	}
	if _, err := newServeMain(cfg, slog.New(slog.DiscardHandler)); err != nil {
		return usageError{"config check: " + annotateFlags(err.Error(), srcs)}
	}
	printEffective(e.stdout, fs, srcs, cfg, *path)
	return nil
}

var flagRefRE = regexp.MustCompile(`--([a-z0-9][a-z0-9-]*)`)

// annotateFlags adds to msg where the flags it names were set in the file.
func annotateFlags(msg string, srcs map[string]source) string {
	var notes []string
	seen := map[string]bool{}
	for _, m := range flagRefRE.FindAllStringSubmatch(msg, -1) {
		if s, ok := srcs[m[1]]; ok && s.kind != "default" && s.kind != "flag" && !seen[m[1]] {
			seen[m[1]] = true
			notes = append(notes, fmt.Sprintf("--%s is set by %s", m[1], s))
		}
	}
	if len(notes) == 0 {
		return msg
	}
	return msg + " (" + strings.Join(notes, "; ") + ")"
}

// printEffective prints every serve flag with its value and source, then
// the modules.
func printEffective(w io.Writer, fs *flag.FlagSet, srcs map[string]source, cfg *serveConfig, path string) {
	if path != "" {
		fmt.Fprintf(w, "config %s: ok\n\n", path)
	} else {
		fmt.Fprint(w, "no config file (--config or COREBRIDGE_CONFIG): flags, environment and defaults only\n\n")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FLAG\tVALUE\tFROM")
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(tw, "--%s\t%s\t%s\n", f.Name, displayValue(f), srcs[f.Name])
	})
	tw.Flush()
	if len(cfg.modules) == 0 {
		fmt.Fprintln(w, "\nmodules: none listed (any module name is accepted, up to --max-modules)")
		return
	}
	fmt.Fprintf(w, "\nmodules (%d):\n", len(cfg.modules))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, m := range cfg.modules {
		var parts []string
		if m.Schema != nil {
			parts = append(parts, fmt.Sprintf("schema (%d bytes)", len(m.Schema)))
		} else {
			parts = append(parts, "any JSON object")
		}
		if m.SilenceMaxGap > 0 {
			parts = append(parts, "silence-max-gap "+m.SilenceMaxGap.String())
		}
		if m.StrictOrder != nil {
			parts = append(parts, fmt.Sprintf("strict-order %t", *m.StrictOrder))
		}
		fmt.Fprintf(tw, "  %s\t%s\n", m.Name, strings.Join(parts, ", "))
	}
	tw.Flush()
}

// displayValue is a flag's value as config check shows it: secrets
// redacted (URLs' passwords, header values, anything named secret, token
// or password that is not a file's path), "" for empty.
func displayValue(f *flag.Flag) string {
	v := f.Value.String()
	if v == "" {
		return `""`
	}
	lname := strings.ToLower(f.Name)
	switch {
	case f.Name == "bucket-header":
		names := strings.Split(v, ",") // headerFlag shows only the names
		for i := range names {
			names[i] += ": (redacted)"
		}
		return strings.Join(names, ", ")
	case (strings.Contains(lname, "secret") || strings.Contains(lname, "token") || strings.Contains(lname, "password")) &&
		!strings.HasSuffix(lname, "-file"):
		return "(redacted)"
	case strings.Contains(v, "://"):
		return redactURLValue(v)
	}
	return v
}

// redactURLValue hides the password of a URL: its user information and
// a password= query parameter.
func redactURLValue(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return auth.RedactURLsIn(v)
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "redacted")
		u.RawQuery = q.Encode()
	}
	return auth.RedactURL(u.String())
}
