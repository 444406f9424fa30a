package api_test

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"corebridge/internal/api"
	"corebridge/internal/bridge"

	"github.com/google/uuid"
)

// The ceiling server must answer exactly what the real one does, or load
// against it measures something else.
func TestCeiling(t *testing.T) {
	ceiling := api.NewCeiling(0)
	real := newFixture(t, api.Config{})

	t.Run("200 shape", func(t *testing.T) {
		body := `{"module":"education","data":{"a":1},"session_id":"s-1"}`
		c := wantUpdateOK(t, serve(t, ceiling, "POST", "/core/update", body), "education", false)
		r := wantUpdateOK(t, real.do(t, "POST", "/core/update", body), "education", false)
		if !slices.Equal(keys(c), keys(r)) {
			t.Errorf("ceiling fields %v, real %v", keys(c), keys(r))
		}
		if c["session_id"] != "s-1" {
			t.Errorf("session_id = %#v, want echoed", c["session_id"])
		}
	})

	t.Run("session generated", func(t *testing.T) {
		c := wantUpdateOK(t, serve(t, ceiling, "POST", "/core/update", `{"module":"m","data":{}}`), "m", false)
		if _, err := uuid.Parse(c["session_id"].(string)); err != nil {
			t.Errorf("session_id %v: %v", c["session_id"], err)
		}
	})

	for _, tc := range invalidUpdates {
		t.Run("422 "+tc.name, func(t *testing.T) {
			c := serve(t, ceiling, "POST", "/core/update", tc.body)
			wantDetail(t, c, tc.loc, tc.typ)
			r := real.do(t, "POST", "/core/update", tc.body)
			if !bytes.Equal(c.body, r.body) {
				t.Errorf("ceiling answered %s, real %s", c.body, r.body)
			}
		})
	}

	t.Run("422 idempotency key", func(t *testing.T) {
		c := serve(t, ceiling, "POST", "/core/update", `{"module":"m","data":{}}`, "Idempotency-Key", strings.Repeat("k", 256))
		wantDetail(t, c, `["header","idempotency-key"]`, "string_too_long")
	})

	t.Run("413", func(t *testing.T) {
		small := api.NewCeiling(64)
		r := serve(t, small, "POST", "/core/update", `{"module":"m","data":{"p":"`+strings.Repeat("x", 64)+`"}}`)
		r.want(t, http.StatusRequestEntityTooLarge)
		wantErrorBody(t, r, bridge.ETOOLARGE)
	})

	t.Run("405", func(t *testing.T) {
		serve(t, ceiling, "GET", "/core/update", "").want(t, http.StatusMethodNotAllowed)
	})

	t.Run("healthz", func(t *testing.T) {
		serve(t, ceiling, "GET", "/healthz", "").want(t, http.StatusOK)
	})

	if st := real.stats(t); st.Received != 1 {
		t.Errorf("real server stored %d, want 1", st.Received)
	}
}
