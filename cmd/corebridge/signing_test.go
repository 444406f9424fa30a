package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"corebridge/internal/auth"
	"corebridge/internal/webhook"
)

// TestMockSignsAgainstServe: serve with a token that requires signatures;
// `corebridge mock` without the secret is refused (and stores nothing),
// with --signing-secret-file its updates are stored.
func TestMockSignsAgainstServe(t *testing.T) {
	t.Parallel()
	const bearer = "cbt_test_signer_0123456789abcdef"
	const viewer = "cbt_test_viewer_0123456789abcdef"
	secret := webhook.NewSecret()
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.yaml")
	content := "tokens:\n" +
		`  - {"name": "signer", "role": "producer", "modules": ["*"], "hash": "` + auth.HashSecret(bearer) + `", "signing_secrets": ["` + secret + `"]}` + "\n" +
		`  - {"name": "viewer", "role": "viewer", "hash": "` + auth.HashSecret(viewer) + `"}` + "\n"
	if err := os.WriteFile(authFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "signing.secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--auth-file", authFile)

	out, err := mockRun(t, "--api-url", base, "--token", bearer, "--rounds", "1", "--modules", "education")
	if err == nil && !strings.Contains(out, "401") && !strings.Contains(out, "signature") {
		t.Errorf("unsigned mock: %v\n%s", err, out)
	}
	if h := getWith(t, base+"/core/health", viewer); h["received_total"] != 0.0 {
		t.Fatalf("unsigned updates stored: %v", h["received_total"])
	}
	out, err = mockRun(t, "--api-url", base, "--token", bearer, "--signing-secret-file", secretFile, "--rounds", "2", "--interval", "10ms", "--modules", "education,finance")
	if err != nil || strings.Count(out, "status=success") != 4 {
		t.Fatalf("signed mock: %v\n%s", err, out)
	}
	if h := getWith(t, base+"/core/health", viewer); h["received_total"] != 4.0 {
		t.Errorf("received_total %v, want 4", h["received_total"])
	}

	// A secret file that does not hold a secret is refused without
	// showing what it holds.
	bad := filepath.Join(dir, "bad.secret")
	if err := os.WriteFile(bad, []byte("hunter2-not-a-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := mockRun(t, "--api-url", base, "--signing-secret-file", bad, "--rounds", "1"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad secret file: %v", err)
	}
}
