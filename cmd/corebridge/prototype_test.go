package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestPrototypeClient runs a Python `requests` client written against the
// prototype (scripts/prototype_client.py) against the real program. CI sets
// COREBRIDGE_REQUIRE_PYTHON=1 (and COREBRIDGE_PYTHON to pick the interpreter) so that a missing Python fails instead of skipping.
func TestPrototypeClient(t *testing.T) {
	py := os.Getenv("COREBRIDGE_PYTHON")
	if py == "" {
		py = "python3"
	}
	py, err := exec.LookPath(py)
	if err == nil {
		err = exec.Command(py, "-c", "import requests").Run()
	}
	if err != nil {
		if os.Getenv("COREBRIDGE_REQUIRE_PYTHON") == "1" {
			t.Fatalf("python3 with requests is required: %v", err)
		}
		t.Skipf("python3 with requests not available: %v", err)
	}
	t.Run("no auth file, loopback", func(t *testing.T) {
		base, _ := startServe(t, "--data-dir", t.TempDir())
		out, err := exec.Command(py, "../../scripts/prototype_client.py", base).CombinedOutput()
		if err != nil {
			t.Fatalf("prototype client failed: %v\n%s", err, out)
		}
		t.Logf("%s", out)
	})
	t.Run("with tokens", func(t *testing.T) {
		// The same client, given a producer's and a viewer's token as headers.
		base, _ := startServe(t, "--data-dir", t.TempDir(), "--auth-file", writeAuthFile(t))
		cmd := exec.Command(py, "../../scripts/prototype_client.py", base)
		cmd.Env = append(os.Environ(), "COREBRIDGE_TOKEN="+testSecrets["producer-any"], "COREBRIDGE_VIEWER_TOKEN="+testSecrets["viewer"])
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("prototype client with tokens failed: %v\n%s", err, out)
		}
		cmd = exec.Command(py, "../../scripts/prototype_client.py", base) // and without: refused
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Fatalf("prototype client without a token passed against an auth file:\n%s", out)
		}
	})
}
