package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"corebridge/internal/api"
	"corebridge/internal/registry"
)

// testRegistry: finance's data must have an integer score >= 0;
// education takes any object.
func testRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	reg, err := registry.New([]registry.ModuleSpec{
		{Name: "finance", Schema: json.RawMessage(`{"type":"object","properties":{"score":{"type":"integer","minimum":0},
			"lines":{"type":"array","items":{"type":"object","required":["amount"]}}},"required":["score"]}`)},
		{Name: "education"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// fieldErrors is a 422 body's detail as "loc type" strings.
func fieldErrors(t testing.TB, r response) []string {
	t.Helper()
	r.want(t, http.StatusUnprocessableEntity)
	var body struct {
		Detail []struct {
			Loc  []any  `json:"loc"`
			Msg  string `json:"msg"`
			Type string `json:"type"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Detail) == 0 {
		t.Fatalf("422 body %s: want a FastAPI detail list (%v)", r.body, err)
	}
	var out []string
	for _, d := range body.Detail {
		if d.Msg == "" {
			t.Errorf("field error %v without msg", d.Loc)
		}
		out = append(out, fmt.Sprintf("%v %s", d.Loc, d.Type))
	}
	return out
}

func TestRegistryIngest(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true, api: api.Config{Registry: testRegistry(t)}})
	received := func() int64 { return f.stats(t).Received }

	wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"finance","data":{"score":3}}`), "finance", false)
	wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"education","data":{"anything":"goes"}}`), "education", false)
	if n := received(); n != 2 {
		t.Fatalf("received = %d after two valid records, want 2", n)
	}

	for _, c := range []struct {
		path, body string
		want       string
	}{
		{"/core/update", `{"module":"finance","data":{"score":"high"}}`, "[body data score] schema_type"},
		{"/core/update", `{"module":"finance","data":{"score":-1}}`, "[body data score] schema_minimum"},
		{"/core/update", `{"module":"finance","data":{}}`, "[body data score] missing"},
		{"/core/update", `{"module":"finance","data":{"score":1,"lines":[{"amount":1},{}]}}`, "[body data lines 1 amount] missing"},
		{"/core/update", `{"module":"robotics","data":{}}`, "[body module] module_unknown"},
		// A batch: one bad item refuses the whole batch, naming the item.
		{"/core/updates", `{"updates":[{"module":"finance","data":{"score":1}},{"module":"finance","data":{"score":"x"}}]}`,
			"[body updates 1 data score] schema_type"},
		{"/core/updates", `[{"module":"education","data":{}},{"module":"robotics","data":{}}]`, "[body 1 module] module_unknown"},
		{"/core/updates", `[{"module":"robotics","data":{}},{"module":"finance","data":{"score":0.5}}]`,
			"[body 0 module] module_unknown|[body 1 data score] schema_type"},
	} {
		before := received()
		got := strings.Join(fieldErrors(t, f.do(t, "POST", c.path, c.body)), "|")
		if got != c.want {
			t.Errorf("%s %s: field errors %q, want %q", c.path, c.body, got, c.want)
		}
		if after := received(); after != before {
			t.Errorf("%s %s: %d records stored by a refused request", c.path, c.body, after-before)
		}
	}

	r := f.do(t, "POST", "/core/update", `{"module":"robotics","data":{}}`)
	if want := `module \"robotics\" is not in the registry: known modules are education, finance`; !strings.Contains(string(r.body), want) {
		t.Errorf("unknown module answer %s, want it to say %s", r.body, want)
	}
	// A valid batch still goes in.
	f.do(t, "POST", "/core/updates", `[{"module":"finance","data":{"score":1}},{"module":"education","data":{}}]`).want(t, http.StatusOK)
	if n := received(); n != 4 {
		t.Errorf("received = %d, want 4", n)
	}
}

func TestNoRegistryAcceptsAnyModule(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true})
	wantUpdateOK(t, f.do(t, "POST", "/core/update", `{"module":"robotics","data":{"score":"high"}}`), "robotics", false)
	f.do(t, "POST", "/core/heartbeat", `{"module":"robotics"}`).want(t, http.StatusOK)
}
