package client

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"corebridge/internal/reconcile"
)

// jsonFields lists the JSON member paths of t ("modules[].missing_ids"),
// following structs, pointers and slices; a json.RawMessage is a leaf.
func jsonFields(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer || (t.Kind() == reflect.Slice && t != reflect.TypeOf(json.RawMessage(nil))) {
		if t.Kind() == reflect.Slice {
			prefix += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeOf(json.RawMessage(nil)) {
		return
	}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		p := prefix + "." + name
		*out = append(*out, p)
		if f.Type.String() == "time.Time" {
			continue
		}
		jsonFields(f.Type, p, out)
	}
}

// The client's report types mirror what POST /api/reconcile sends
// (reconcile.Report and reconcile.Progress), so that a public client
// does not hand out internal types; this keeps them from drifting: a
// member the bridge sends and the client drops fails here. (The module's
// chain report is kept raw by the client.)
func TestReconcileTypesMirrorTheBridge(t *testing.T) {
	for _, c := range []struct {
		bridge, client any
	}{
		{reconcile.Report{}, ReconcileReport{}},
		{reconcile.Progress{}, ReconcileProgress{}},
		{reconcile.Health{}, ReconciliationStatus{}},
	} {
		var want, got []string
		jsonFields(reflect.TypeOf(c.bridge), "", &want)
		jsonFields(reflect.TypeOf(c.client), "", &got)
		want = slices.DeleteFunc(want, func(p string) bool { return strings.HasPrefix(p, ".modules[].chain.") })
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("%T sends %v;\n%T reads %v", c.bridge, want, c.client, got)
		}
	}
}
