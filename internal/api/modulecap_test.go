package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"corebridge/internal/api"
	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
)

// lateLister lets a ModuleCap be built before the fixture's store: it
// reads the store only at the first ingest.
type lateLister struct{ st bridge.Store }

func (l *lateLister) Modules(ctx context.Context) ([]bridge.ModuleSummary, error) {
	return l.st.Modules(ctx)
}

// TestModuleCapBoundsPerModuleState: names refused past --max-modules
// leave no per-module trace in the 24 h figures (their rejections are
// counted under ""), so a flood of invented names cannot grow the window's
// per-module sums.
func TestModuleCapBoundsPerModuleState(t *testing.T) {
	l := &lateLister{}
	f := newFixture(t, api.Config{Modules: ingest.NewModuleCap(l, 2)})
	l.st = f.store
	for _, m := range []string{"education", "finance"} {
		if r := f.do(t, "POST", "/core/update", `{"module":"`+m+`","data":{}}`); r.code != 200 {
			t.Fatalf("%s: %d %s", m, r.code, r.body)
		}
	}
	for i := range 50 {
		r := f.do(t, "POST", "/core/update", fmt.Sprintf(`{"module":"flood-%d","data":{}}`, i))
		if r.code != 422 || !strings.Contains(string(r.body), `"module_limit"`) {
			t.Fatalf("new module past the cap: %d %s", r.code, r.body)
		}
	}
	fig, err := f.hub.Figures(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for m := range fig.PerModule {
		if m != "" && m != "education" && m != "finance" {
			t.Errorf("the 24 h figures hold module %q, refused past the cap", m)
		}
	}
	if got := fig.PerModule[""].Rejected; got != 50 {
		t.Errorf("rejections counted without a module: %d, want the 50 refused names", got)
	}
}
