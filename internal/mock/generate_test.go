package mock

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

func TestDefaultModules(t *testing.T) {
	want := []string{"education", "finance", "creative", "robotics"}
	if got := DefaultModules(); !slices.Equal(got, want) {
		t.Errorf("DefaultModules() = %v, want %v", got, want)
	}
}

func TestGeneratorData(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 3, 10, 0, 0, 0, time.FixedZone("CET", 3600)) }
	keys := map[string][]string{
		"education": {"student_id", "course", "lesson", "score", "progress", "time_spent_s", "recorded_at"},
		"finance":   {"account", "transaction_id", "amount", "currency", "category", "merchant", "recorded_at"},
		"creative":  {"project", "asset_type", "duration_s", "resolution", "tags", "recorded_at"},
		"robotics":  {"robot_id", "battery_pct", "position", "task", "status", "recorded_at"},
		"weather":   {"source", "sequence", "metric", "value", "recorded_at"},
	}
	for module, want := range keys {
		t.Run(module, func(t *testing.T) {
			g := NewGenerator(7, now)
			distinct := map[string]bool{}
			for range 200 {
				data := g.Data(module)
				if n := len(data); n < 100 || n > 400 {
					t.Errorf("%d bytes, want 100 to 400: %s", n, data)
				}
				var obj map[string]any
				if err := json.Unmarshal(data, &obj); err != nil {
					t.Fatalf("not a JSON object: %v: %s", err, data)
				}
				for _, k := range want {
					if _, ok := obj[k]; !ok {
						t.Fatalf("no %q in %s", k, data)
					}
				}
				if obj["recorded_at"] != "2026-11-03T09:00:00.000Z" {
					t.Fatalf("recorded_at = %v, want the clock's time in UTC", obj["recorded_at"])
				}
				// What the bridge itself accepts is the test of "valid".
				body, _ := json.Marshal(map[string]any{"module": module, "data": data})
				u, err := bridge.DecodeUpdate(body)
				if err != nil || u.Module != module || !bytes.Equal(u.Data, data) {
					t.Fatalf("bridge.DecodeUpdate = %+v, %v", u, err)
				}
				distinct[string(data)] = true
			}
			if len(distinct) < 190 {
				t.Errorf("only %d distinct data objects in 200", len(distinct))
			}
		})
	}
}

func TestGeneratorSeed(t *testing.T) {
	now := func() time.Time { return time.Unix(0, 0) }
	a, b, c := NewGenerator(1, now), NewGenerator(1, now), NewGenerator(2, now)
	for _, m := range DefaultModules() {
		da, db, dc := a.Data(m), b.Data(m), c.Data(m)
		if !bytes.Equal(da, db) {
			t.Errorf("%s: same seed gave %s and %s", m, da, db)
		}
		if bytes.Equal(da, dc) {
			t.Errorf("%s: seeds 1 and 2 gave the same %s", m, da)
		}
	}
}
