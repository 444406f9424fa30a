package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLoadTestHeader: records sent with Corebridge-Load-Test: 1 (as
// `corebridge mock --load` sends them) are stored and counted, but the
// module's usual interval is not learnt from them; a bad value is a 422
// naming the header.
func TestLoadTestHeader(t *testing.T) {
	f := newFixtureWith(t, setup{sqlite: true})
	t0 := f.clock.Now()
	for i := range 8 {
		f.clock.Set(t0.Add(time.Duration(30*i) * time.Second))
		f.do(t, "POST", "/core/update", fmt.Sprintf(`{"module":"marked","data":{"i":%d}}`, i), "Corebridge-Load-Test", "1").want(t, http.StatusOK)
		f.do(t, "POST", "/core/updates", fmt.Sprintf(`[{"module":"marked_batch","data":{"i":%d}}]`, i), "Corebridge-Load-Test", "true").want(t, http.StatusOK)
		f.do(t, "POST", "/core/update", fmt.Sprintf(`{"module":"plain","data":{"i":%d}}`, i), "Corebridge-Load-Test", "0").want(t, http.StatusOK)
	}
	mods, err := f.store.Modules(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		learnt := m.Intervals > 0
		if m.Received != 8 || learnt != (m.Module == "plain") {
			t.Errorf("module %s: received %d, intervals learnt %d (%v); want 8 received, learnt only for plain", m.Module, m.Received, m.Intervals, m.Interval)
		}
	}
	for _, path := range []string{"/core/update", "/core/updates"} {
		body := `{"module":"marked","data":{}}`
		if path == "/core/updates" {
			body = "[" + body + "]"
		}
		r := f.do(t, "POST", path, body, "Corebridge-Load-Test", "yes please")
		r.want(t, http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.body), "corebridge-load-test") {
			t.Errorf("%s with a bad Corebridge-Load-Test: %s; want the header named", path, r.body)
		}
	}
}
