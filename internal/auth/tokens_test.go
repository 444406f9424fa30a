package auth

import (
	"bytes"
	"corebridge/internal/logtest"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestHashSecret(t *testing.T) {
	// echo -n abc | sha256sum
	if got, want := HashSecret("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Fatalf("HashSecret(abc) = %s, want %s", got, want)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(a, "cbt_"))
	if !strings.HasPrefix(a, "cbt_") || err != nil || len(raw) != 32 || a == b {
		t.Fatalf("NewSecret: %q, %q (%v, %d bytes)", a, b, err, len(raw))
	}
	// What NewSecret makes, Authenticate takes.
	tk := NewTokens([]Entry{{Name: "n", Role: RoleViewer, Hash: HashSecret(a)}})
	if p, err := tk.Authenticate("Bearer " + a); err != nil || p.Name != "n" {
		t.Fatalf("Authenticate(new secret) = %v, %v", p, err)
	}
}

func TestAuthenticate(t *testing.T) {
	tk := NewTokens([]Entry{
		{Name: "edu", Role: RoleProducer, Modules: []string{"education"}, Hash: HashSecret("cbt_edu")},
		{Name: "ops", Role: RoleOperator, Hash: HashSecret("cbt_ops")},
	})
	for _, tc := range []struct {
		name, header string
		want         string // principal name, or "" for an error
		err          error
	}{
		{"good", "Bearer cbt_edu", "edu", nil},
		{"other token", "Bearer cbt_ops", "ops", nil},
		{"lower-case scheme", "bearer cbt_edu", "edu", nil},
		{"upper-case scheme", "BEARER cbt_edu", "edu", nil},
		{"several spaces", "Bearer    cbt_edu", "edu", nil},
		{"surrounding spaces", "  Bearer cbt_edu ", "edu", nil},
		{"empty", "", "", ErrNoCredentials},
		{"only spaces", "   ", "", ErrNoCredentials},
		{"unknown token", "Bearer cbt_nope", "", ErrBadCredentials},
		{"token in another case", "Bearer CBT_EDU", "", ErrBadCredentials},
		{"basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("edu:cbt_edu")), "", ErrBadCredentials},
		{"token without scheme", "cbt_edu", "", ErrBadCredentials},
		{"scheme without token", "Bearer", "", ErrBadCredentials},
		{"scheme and space", "Bearer ", "", ErrBadCredentials},
		{"tab for a space", "Bearer\tcbt_edu", "", ErrBadCredentials},
		{"two tokens", "Bearer cbt_edu cbt_ops", "", ErrBadCredentials},
		{"the hash instead of the secret", "Bearer " + HashSecret("cbt_edu"), "", ErrBadCredentials},
		{"control character", "Bearer cbt_edu\x00", "", ErrBadCredentials},
		{"too long", "Bearer " + strings.Repeat("a", 600), "", ErrBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tk.Authenticate(tc.header)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || p != nil {
					t.Fatalf("Authenticate(%q) = %v, %v; want %v", tc.header, p, err, tc.err)
				}
				if strings.Contains(err.Error(), "cbt_") {
					t.Fatalf("error %q echoes the token", err)
				}
				return
			}
			if err != nil || p == nil || p.Name != tc.want {
				t.Fatalf("Authenticate(%q) = %+v, %v; want %s", tc.header, p, err, tc.want)
			}
		})
	}
}

// Every token of a set is found as itself, wherever it sits: the loop that
// compares all of them without stopping must still pick the one that
// matched.
func TestAuthenticateSeveralTokens(t *testing.T) {
	var entries []Entry
	for i := range 9 {
		e := Entry{Name: fmt.Sprintf("t%d", i), Role: RoleViewer, Hash: HashSecret(fmt.Sprintf("cbt_%d", i))}
		if i%3 == 0 {
			e.Role, e.Modules = RoleProducer, []string{fmt.Sprintf("m%d", i)}
		}
		entries = append(entries, e)
	}
	// A malformed hash never matches and does not shift the others.
	entries = append(entries[:4], append([]Entry{{Name: "broken", Role: RoleAdmin, Hash: "sha256:zz"}}, entries[4:]...)...)
	tk := NewTokens(entries)
	if tk.Len() != 9 {
		t.Fatalf("Len = %d, want 9 (the broken entry skipped)", tk.Len())
	}
	for _, e := range entries {
		if e.Name == "broken" {
			continue
		}
		secret := "cbt_" + strings.TrimPrefix(e.Name, "t")
		p, err := tk.Authenticate("Bearer " + secret)
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		want := &Principal{Name: e.Name, Role: e.Role, Modules: e.Modules}
		if !reflect.DeepEqual(p, want) {
			t.Fatalf("%s: got %+v, want %+v", secret, p, want)
		}
	}
	if _, err := tk.Authenticate("Bearer cbt_9"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown secret: %v", err)
	}
}

// The principal is a copy: changing it changes neither the loaded tokens
// nor the entries they were made from.
func TestAuthenticateReturnsACopy(t *testing.T) {
	entries := []Entry{{Name: "p", Role: RoleProducer, Modules: []string{"edu"}, Hash: HashSecret("cbt_p")}}
	tk := NewTokens(entries)
	p, _ := tk.Authenticate("Bearer cbt_p")
	p.Modules[0], p.Role = "*", RoleAdmin
	entries[0].Modules[0] = "finance"
	q, _ := tk.Authenticate("Bearer cbt_p")
	if q.Role != RoleProducer || !reflect.DeepEqual(q.Modules, []string{"edu"}) {
		t.Fatalf("second principal %+v", q)
	}
}

func TestOpen(t *testing.T) {
	path := writeAuthFile(t, "tokens:\n  - {name: a, role: admin, hash: "+HashSecret("cbt_a")+"}\n")
	var logs bytes.Buffer
	tk, err := Open(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := tk.Authenticate("Bearer cbt_a"); err != nil || p.Role != RoleAdmin {
		t.Fatalf("Authenticate = %v, %v", p, err)
	}
	if strings.Contains(logs.String(), "group or others") {
		t.Fatalf("0600 file warned about:\n%s", logs.String())
	}

	// Readable by others: loaded, with a warning.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if _, err := Open(path, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "group or others") {
		t.Fatalf("no warning for a 0644 file:\n%s", logs.String())
	}

	if _, err := Open(path+".missing", nil); err == nil {
		t.Fatal("Open of a missing file: no error")
	}
	bad := writeAuthFile(t, "tokens: []\n")
	if _, err := Open(bad, nil); err == nil || !strings.Contains(err.Error(), "no tokens") {
		t.Fatalf("Open of an empty list: %v", err)
	}
}

func TestReloadKeepsTheOldSetOnABrokenFile(t *testing.T) {
	path := writeAuthFile(t, "tokens:\n  - {name: a, role: admin, hash: "+HashSecret("cbt_a")+"}\n")
	var logs logtest.Buffer
	tk, err := Open(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, broken := range []string{
		"tokens: [\n",
		"tokens:\n  - {name: a, role: admin, secret: cbt_a}\n",
		"tokens: []\n",
	} {
		if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := tk.Reload(); err == nil {
			t.Fatalf("Reload of %q: no error", broken)
		}
		if p, err := tk.Authenticate("Bearer cbt_a"); err != nil || p.Name != "a" || tk.Len() != 1 {
			t.Fatalf("after a failed reload: %v, %v, Len %d", p, err, tk.Len())
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("failed reload not logged as a warning:\n%s", logs.String())
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := tk.Reload(); err == nil || tk.Len() != 1 {
		t.Fatalf("Reload of a removed file: %v, Len %d", err, tk.Len())
	}

	// A good file again: swapped in, and logged with its count.
	good := "tokens:\n  - {name: b, role: viewer, hash: " + HashSecret("cbt_b") + "}\n" +
		"  - {name: c, role: viewer, hash: " + HashSecret("cbt_c") + "}\n"
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tk.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Authenticate("Bearer cbt_a"); !errors.Is(err, ErrBadCredentials) || tk.Len() != 2 {
		t.Fatalf("a's token after it was removed from the file: %v, Len %d", err, tk.Len())
	}
	if !strings.Contains(logs.String(), `msg="auth file reloaded"`) || !strings.Contains(logs.String(), "tokens=2") {
		t.Fatalf("reload not logged with its count:\n%s", logs.String())
	}
}

func TestReloadWithoutAFile(t *testing.T) {
	tk := NewTokens([]Entry{{Name: "a", Role: RoleAdmin, Hash: h1}})
	if err := tk.Reload(); err == nil || tk.Len() != 1 {
		t.Fatalf("Reload of NewTokens: %v, Len %d", err, tk.Len())
	}
}

// Requests authenticate while the file is reloaded over and over: each
// sees either the old set or the new one, never none (run with -race).
func TestAuthenticateDuringReload(t *testing.T) {
	fileA := "tokens:\n  - {name: keep, role: viewer, hash: " + HashSecret("cbt_keep") + "}\n" +
		"  - {name: a, role: viewer, hash: " + HashSecret("cbt_a") + "}\n"
	fileB := "tokens:\n  - {name: keep, role: viewer, hash: " + HashSecret("cbt_keep") + "}\n" +
		"  - {name: b, role: viewer, hash: " + HashSecret("cbt_b") + "}\n  - {name: c, role: admin, hash: " + HashSecret("cbt_c") + "}\n"
	path := writeAuthFile(t, fileA)
	tk, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if p, err := tk.Authenticate("Bearer cbt_keep"); err != nil || p.Name != "keep" {
					errs <- fmt.Errorf("Authenticate during reload: %v, %v", p, err)
					return
				}
				if n := tk.Len(); n != 2 && n != 3 {
					errs <- fmt.Errorf("Len = %d", n)
					return
				}
			}
		})
	}
	for i := range 200 {
		content := fileA
		if i%2 == 1 {
			content = fileB
		}
		if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
		if err := tk.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestZeroTokensRefuseEveryone(t *testing.T) {
	var tk Tokens
	if _, err := tk.Authenticate("Bearer x"); !errors.Is(err, ErrBadCredentials) || tk.Len() != 0 {
		t.Fatalf("zero Tokens: %v, Len %d", err, tk.Len())
	}
}
