package auth

import (
	"context"
	"corebridge/internal/logtest"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// startRun opens path, runs Run with the given poll interval until the test
// ends, and returns the tokens and their logs. The cleanup checks that Run
// returns nil once its context ends.
func startRun(t *testing.T, path string, poll time.Duration) (*Tokens, *logtest.Buffer) {
	t.Helper()
	logs := &logtest.Buffer{}
	tk, err := Open(path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tk.poll = poll
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tk.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return tk, logs
}

// waitAuth waits until secret authenticates as name.
func waitAuth(t *testing.T, tk *Tokens, secret, name string, poke func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p, err := tk.Authenticate("Bearer " + secret); err == nil && p.Name == name {
			return
		}
		if poke != nil {
			poke()
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never authenticated", name)
}

// replaceFile writes content next to path and renames it over path, as
// editors and configuration tools do.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func TestRunReloadsWhenTheFileChanges(t *testing.T) {
	path := writeAuthFile(t, "tokens:\n  - {name: a, role: admin, hash: "+HashSecret("cbt_a")+"}\n")
	tk, logs := startRun(t, path, 10*time.Millisecond)

	// Written in place.
	if err := os.WriteFile(path, []byte("tokens:\n  - {name: b, role: admin, hash: "+HashSecret("cbt_b")+"}\n  - {name: c, role: viewer, hash: "+HashSecret("cbt_c")+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitAuth(t, tk, "cbt_b", "b", nil)
	if _, err := tk.Authenticate("Bearer cbt_a"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("a after it was removed: %v", err)
	}
	// Replaced by rename.
	replaceFile(t, path, "tokens:\n  - {name: d, role: admin, hash: "+HashSecret("cbt_d")+"}\n")
	waitAuth(t, tk, "cbt_d", "d", nil)
	if !strings.Contains(logs.String(), `trigger="file changed"`) {
		t.Fatalf("no reload logged:\n%s", logs)
	}
}

// A broken file is warned about once, not on every poll, and the tokens
// loaded before stay; fixing it is picked up.
func TestRunOnceWarnsOncePerChange(t *testing.T) {
	path := writeAuthFile(t, "tokens:\n  - {name: a, role: admin, hash: "+HashSecret("cbt_a")+"}\n")
	logs := &logtest.Buffer{}
	tk, err := Open(path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tk.runOnce()
	if strings.Contains(logs.String(), "reloaded") {
		t.Fatalf("reloaded an unchanged file:\n%s", logs)
	}
	replaceFile(t, path, "tokens: [\n")
	tk.runOnce()
	tk.runOnce()
	tk.runOnce()
	if n := strings.Count(logs.String(), "not reloaded"); n != 1 {
		t.Fatalf("%d warnings for one broken file, want 1:\n%s", n, logs)
	}
	if p, err := tk.Authenticate("Bearer cbt_a"); err != nil || p.Name != "a" {
		t.Fatalf("old token after a broken file: %v, %v", p, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	tk.runOnce()
	tk.runOnce()
	if n := strings.Count(logs.String(), "not reloaded"); n != 2 {
		t.Fatalf("%d warnings after removing the file, want 2:\n%s", n, logs)
	}
	replaceFile(t, path, "tokens:\n  - {name: b, role: admin, hash: "+HashSecret("cbt_b")+"}\n")
	tk.runOnce()
	if p, err := tk.Authenticate("Bearer cbt_b"); err != nil || p.Name != "b" {
		t.Fatalf("fixed file not loaded: %v, %v\n%s", p, err, logs)
	}
}

func TestRunWithoutAFile(t *testing.T) {
	tk := NewTokens([]Entry{{Name: "a", Role: RoleAdmin, Hash: h1}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := tk.Run(ctx); err != nil {
		t.Fatal(err)
	}
}
