package api_test

import (
	"net/http"
	"strings"
	"testing"

	"corebridge/internal/api"
)

// TestReplayPurgeSelectors: a bad selector is a 422 that names the field;
// a good one replays or purges exactly the selected dead letters.
func TestReplayPurgeSelectors(t *testing.T) {
	f := newFixture(t, api.Config{})
	for range 3 {
		f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`).want(t, http.StatusOK)
	}
	f.settle(t, f.clock.Now(), 3, 0) // all three dead
	for _, route := range []string{"/api/dead-letters/replay", "/api/dead-letters/purge"} {
		for _, c := range []struct{ name, body, field string }{
			{"ids not a list", `{"ids":"x"}`, `"ids"`},
			{"module not a string", `{"module":5}`, `"module"`},
			{"all not a boolean", `{"all":"yes"}`, `"all"`},
			{"no selector", `{}`, `"body"`},
			{"two selectors", `{"all":true,"module":"m"}`, `"body"`},
			{"not JSON", `{"ids":`, `"body"`},
		} {
			t.Run(route+"/"+c.name, func(t *testing.T) {
				r := f.do(t, "POST", route, c.body)
				r.want(t, http.StatusUnprocessableEntity)
				if !strings.Contains(string(r.body), c.field) {
					t.Errorf("422 does not name %s: %s", c.field, r.body)
				}
			})
		}
	}
	if n := f.stats(t).Dead; n != 3 {
		t.Fatalf("bad selectors changed dead letters: %d left, want 3", n)
	}
	r := f.do(t, "POST", "/api/dead-letters/replay", `{"module":"m"}`)
	r.want(t, http.StatusOK)
	if m := r.object(t); wantInt(t, m, "replayed") != 3 {
		t.Errorf("replayed %v", m)
	}
}
