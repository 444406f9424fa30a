package registry_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/registry"
)

const scoreSchema = `{
	"type": "object",
	"properties": {
		"score": {"type": "integer", "minimum": 0},
		"tags": {"type": "array", "items": {"type": "string"}},
		"at": {"type": "string", "format": "date-time"}
	},
	"required": ["score"]
}`

func mustNew(t *testing.T, specs ...registry.ModuleSpec) *registry.Registry {
	t.Helper()
	r, err := registry.New(specs)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func locs(fes []registry.FieldError) string {
	var b strings.Builder
	for _, fe := range fes {
		fmt.Fprintf(&b, "%v %s|", fe.Loc, fe.Type)
	}
	return b.String()
}

func TestValidate(t *testing.T) {
	r := mustNew(t, registry.ModuleSpec{Name: "finance", Schema: json.RawMessage(scoreSchema)}, registry.ModuleSpec{Name: "free"})
	for _, c := range []struct {
		module, data, want string
	}{
		{"finance", `{"score":3}`, ""},
		{"finance", `{"score":3,"tags":["a"],"at":"2026-03-01T12:00:00Z"}`, ""},
		{"free", `{"anything":[1,2]}`, ""},
		{"finance", `{"score":"high"}`, "[body data score] schema_type|"},
		{"finance", `{"score":-1}`, "[body data score] schema_minimum|"},
		{"finance", `{}`, "[body data score] missing|"},
		{"finance", `{"score":1,"tags":["a",2]}`, "[body data tags 1] schema_type|"},
		{"finance", `{"score":1,"at":"yesterday"}`, "[body data at] schema_format|"},
		{"finance", `{"score":1.5,"tags":[true]}`, "[body data score] schema_type|[body data tags 0] schema_type|"},
		{"nobody", `{}`, "[body module] module_unknown|"},
	} {
		got := locs(r.Validate(c.module, json.RawMessage(c.data)))
		if got != c.want {
			t.Errorf("Validate(%s, %s) = %q, want %q", c.module, c.data, got, c.want)
		}
	}
	// A batch item's errors are under its own loc.
	fes := r.Check("finance", json.RawMessage(`{"score":"x"}`), []any{"body", "updates", 2})
	if want := []any{"body", "updates", 2, "data", "score"}; len(fes) != 1 || !reflect.DeepEqual(fes[0].Loc, want) {
		t.Errorf("Check in a batch = %+v, want loc %v", fes, want)
	}
	fes = r.Validate("nobody", json.RawMessage(`{}`))
	if !strings.Contains(fes[0].Msg, `module "nobody" is not in the registry: known modules are finance, free`) {
		t.Errorf("unknown module message = %q", fes[0].Msg)
	}
	// Missing is pydantic's own type; messages are readable.
	fes = r.Validate("finance", json.RawMessage(`{"score":"x"}`))
	if !strings.Contains(fes[0].Msg, "integer") {
		t.Errorf("type message = %q, want it to name the type", fes[0].Msg)
	}
}

func TestAdditionalProperties(t *testing.T) {
	r := mustNew(t, registry.ModuleSpec{Name: "m", Schema: json.RawMessage(`{"type":"object","properties":{"a":{}},"additionalProperties":false}`)})
	got := locs(r.Validate("m", json.RawMessage(`{"a":1,"z":2,"b":3}`)))
	if want := "[body data b] extra_forbidden|[body data z] extra_forbidden|"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNilRegistry(t *testing.T) {
	var r *registry.Registry
	if !r.Known("anything") || r.Validate("anything", json.RawMessage(`{}`)) != nil || r.Len() != 0 {
		t.Fatal("a nil registry must know every module and check nothing")
	}
	if _, ok := r.Settings("x"); ok {
		t.Fatal("a nil registry has no settings")
	}
	r, err := registry.New(nil)
	if r != nil || err != nil {
		t.Fatalf("New(nil) = %v, %v; want no registry", r, err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		specs []registry.ModuleSpec
		want  string
	}{
		{[]registry.ModuleSpec{{Name: "a"}, {Name: "a"}}, `module "a": listed twice`},
		{[]registry.ModuleSpec{{Name: "-bad"}}, `module "-bad": invalid name`},
		{[]registry.ModuleSpec{{Name: ""}}, `modules[0]: no name`},
		{[]registry.ModuleSpec{{Name: "s", Schema: json.RawMessage(`{"type":`)}}, `module "s": schema: not valid JSON`},
		{[]registry.ModuleSpec{{Name: "s", Schema: json.RawMessage(`{"type":"bogus"}`)}}, `module "s": schema:`},
		{[]registry.ModuleSpec{{Name: "s", Schema: json.RawMessage(`{"minimum":"x"}`)}}, `module "s": schema:`},
		{[]registry.ModuleSpec{{Name: "s", Schema: json.RawMessage(`[1]`)}}, `module "s": schema: a schema is a JSON object`},
		{[]registry.ModuleSpec{{Name: "s", Schema: json.RawMessage(`{"$ref":"file:///etc/passwd"}`)}}, `cannot refer to files or URLs`},
		{[]registry.ModuleSpec{{Name: "s", Schema: json.RawMessage(`{"pattern":"(?=x)"}`)}}, `module "s": schema:`},
		{[]registry.ModuleSpec{{Name: "g", SilenceMaxGap: -time.Second}}, `module "g": silence max gap -1s is negative`},
	} {
		_, err := registry.New(c.specs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", c.specs, err, c.want)
		}
		if err != nil && len(c.specs) == 1 && strings.Contains(err.Error(), "\n") {
			t.Errorf("the error of one module spans lines: %q", err)
		}
	}
	// $defs and local $ref work.
	mustNew(t, registry.ModuleSpec{Name: "d", Schema: json.RawMessage(`{"$defs":{"n":{"type":"number"}},"properties":{"x":{"$ref":"#/$defs/n"}}}`)})
}

func TestSettingsAndMerges(t *testing.T) {
	on, off := true, false
	r := mustNew(t,
		registry.ModuleSpec{Name: "a", SilenceMaxGap: time.Minute, StrictOrder: &on},
		registry.ModuleSpec{Name: "b", SilenceMaxGap: time.Hour, StrictOrder: &off},
		registry.ModuleSpec{Name: "c", Schema: json.RawMessage(`{}`)},
	)
	s, ok := r.Settings("a")
	if !ok || s.SilenceMaxGap != time.Minute || s.StrictOrder == nil || !*s.StrictOrder || s.HasSchema {
		t.Errorf("Settings(a) = %+v, %v", s, ok)
	}
	if s, _ := r.Settings("c"); !s.HasSchema || s.StrictOrder != nil {
		t.Errorf("Settings(c) = %+v", s)
	}
	gaps := r.SilenceMaxGaps(map[string]time.Duration{"b": 5 * time.Minute, "z": time.Second})
	if want := map[string]time.Duration{"a": time.Minute, "b": 5 * time.Minute, "z": time.Second}; !reflect.DeepEqual(gaps, want) {
		t.Errorf("SilenceMaxGaps = %v, want %v (the flag wins)", gaps, want)
	}
	for _, c := range []struct{ flag, want string }{
		{"", "a"},
		{"x", "a,x"},
		{"b", "a,b"},   // named on the command line: kept
		{"all", "a,c"}, // b says false: "all" becomes the others
		{"none", "a"},
	} {
		var f bridge.StrictOrder
		if err := f.Set(c.flag); err != nil {
			t.Fatal(err)
		}
		got := r.StrictOrder(f)
		if got.String() != c.want {
			t.Errorf("StrictOrder(%q) = %q, want %q", c.flag, got.String(), c.want)
		}
	}
	var f bridge.StrictOrder
	_ = f.Set("all")
	if got := mustNew(t, registry.ModuleSpec{Name: "a", StrictOrder: &on}).StrictOrder(f); !got.All {
		t.Errorf("all with no module saying false must stay all, got %q", got.String())
	}
}

func BenchmarkValidate(b *testing.B) {
	r, _ := registry.New([]registry.ModuleSpec{{Name: "finance", Schema: json.RawMessage(scoreSchema)}})
	data := json.RawMessage(`{"score":3,"tags":["a","b"],"at":"2026-03-01T12:00:00Z"}`)
	for b.Loop() {
		if fes := r.Validate("finance", data); fes != nil {
			b.Fatal(fes)
		}
	}
}

// TestValidateConcurrently: a compiled schema serves many requests at once
// (run with -race).
func TestValidateConcurrently(t *testing.T) {
	r := mustNew(t, registry.ModuleSpec{Name: "finance", Schema: json.RawMessage(scoreSchema)})
	done := make(chan string)
	for i := range 8 {
		go func() {
			var got string
			for range 50 {
				data := fmt.Sprintf(`{"score":%d,"tags":["a",%d]}`, i, i)
				got = locs(r.Validate("finance", json.RawMessage(data)))
			}
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; got != "[body data tags 1] schema_type|" {
			t.Errorf("got %q", got)
		}
	}
}
