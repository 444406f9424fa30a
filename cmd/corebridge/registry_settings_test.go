package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"corebridge/internal/bucket/server"
)

// TestRegistrySettingsApply: a module's own settings in the config file's
// modules: reach the parts that use them. finance's strict-order makes
// its dead record block the next one (health names it), though the flag
// names no module; robotics' silence-max-gap of 2 s makes it silent 2 s
// after its last record.
func TestRegistrySettingsApply(t *testing.T) {
	b, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Faults: server.Faults{RejectModule: "finance"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	cfg := writeConfig(t, `strict-order: ""
modules:
  finance:
    strict-order: true
  robotics:
    silence-max-gap: 2s
`)
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--config", cfg, "--bucket-url", b.URL)
	postRoundRobin(t, base, []string{"finance"}, 1)
	waitFor(t, "finance's first record to go dead", 20*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "dead_count") == 1
	})
	for _, body := range []string{`{"module":"finance","data":{"i":1},"session_id":"f-1"}`, `{"module":"robotics","data":{"i":2},"session_id":"r-1"}`} {
		if code, out := postJSON(t, base+"/core/update", body); code != 200 {
			t.Fatalf("POST %s: %d %v", body, code, out)
		}
	}
	waitFor(t, "health to name finance blocked and robotics silent", 20*time.Second, func() bool {
		h := getJSON(t, base+"/core/health")
		reasons := ""
		for _, r := range h["reasons"].([]any) {
			reasons += r.(string) + "|"
		}
		return strings.Contains(reasons, "finance is blocked by dead record") && strings.Contains(reasons, "robotics")
	})
	h := getJSON(t, base+"/core/health")
	if silent, _ := h["silent_modules"].([]any); len(silent) != 1 || silent[0] != "robotics" {
		t.Errorf("silent modules %v, want [robotics]", h["silent_modules"])
	}
	if blocked, _ := h["blocked_modules"].([]any); len(blocked) != 1 || blocked[0] != "finance" {
		t.Errorf("blocked modules %v, want [finance]", h["blocked_modules"])
	}
}
