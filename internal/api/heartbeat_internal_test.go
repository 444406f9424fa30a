package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"corebridge/internal/bridge"
)

// FuzzDecodeHeartbeat: any body either decodes to a valid heartbeat or is
// refused with field errors; never a panic, never a half-valid result.
func FuzzDecodeHeartbeat(f *testing.F) {
	for _, s := range []string{
		`{"module":"finance"}`,
		`{"module":"finance","status":"down","message":"x","metrics":{"a":[1,{"b":null}]}}`,
		`{"module":"a","status":null,"metrics":null}`,
		`{"module":"a","module":"b"}`,
		`[]`, ``, `{`, `{"metrics":"x"}`, `{"module":"\u00e9"}`, "{\"module\":\"a\xff\"}",
		`{"module":"a","message":"` + strings.Repeat("é", 257) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		hb, err := decodeHeartbeat(body)
		if err != nil {
			var e *bridge.Error
			if !errors.As(err, &e) || e.Code != bridge.EINVALID || len(e.Fields) == 0 {
				t.Fatalf("error %v: want EINVALID with field errors", err)
			}
			for _, fe := range e.Fields {
				if len(fe.Loc) == 0 || fe.Loc[0] != "body" || fe.Msg == "" || fe.Type == "" {
					t.Fatalf("field error %+v", fe)
				}
			}
			if hb.Module != "" {
				t.Fatalf("refused heartbeat with module %q", hb.Module)
			}
			return
		}
		if !bridge.ValidModule(hb.Module) {
			t.Fatalf("accepted invalid module %q", hb.Module)
		}
		switch hb.Status {
		case "ok", "degraded", "down":
		default:
			t.Fatalf("accepted status %q", hb.Status)
		}
		if len(hb.Metrics) > MaxHeartbeatMetrics || (hb.Metrics != nil && (!json.Valid(hb.Metrics) || hb.Metrics[0] != '{')) {
			t.Fatalf("accepted metrics %q", hb.Metrics)
		}
		if len([]rune(hb.Message)) > MaxHeartbeatMessageLen {
			t.Fatalf("accepted a message of %d characters", len([]rune(hb.Message)))
		}
	})
}
