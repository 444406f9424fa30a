package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"corebridge/internal/auth"
)

// tokenCmd runs `corebridge token` with args and an environment.
func tokenCmd(t *testing.T, environ map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"corebridge", "token"}, args...),
		func(k string) string { return environ[k] }, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

var (
	tokenSecretRE = regexp.MustCompile(`(?m)^\s+(cbt_[A-Za-z0-9_-]+)$`)
	tokenLineRE   = regexp.MustCompile(`(?m)^  - (\{.*\})$`)
)

func TestTokenNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ map[string]string
		args    []string
		want    auth.Entry // without Hash
	}{
		{"producer", nil, []string{"--name", "edu-1", "--role", "producer", "--module", "education", "--module", "finance"},
			auth.Entry{Name: "edu-1", Role: auth.RoleProducer, Modules: []string{"education", "finance"}}},
		{"producer of any module", nil, []string{"--name", "all", "--role", "producer", "--module", "*"},
			auth.Entry{Name: "all", Role: auth.RoleProducer, Modules: []string{"*"}}},
		{"modules separated by commas", nil, []string{"--name", "p", "--role", "producer", "--module", "education,finance"},
			auth.Entry{Name: "p", Role: auth.RoleProducer, Modules: []string{"education", "finance"}}},
		{"viewer", nil, []string{"--name", "grafana", "--role", "viewer"},
			auth.Entry{Name: "grafana", Role: auth.RoleViewer}},
		{"from the environment", map[string]string{"COREBRIDGE_TOKEN_NEW_ROLE": "admin"}, []string{"--name", "root"},
			auth.Entry{Name: "root", Role: auth.RoleAdmin}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := tokenCmd(t, tc.environ, append([]string{"new"}, tc.args...)...)
			if err != nil {
				t.Fatalf("token new: %v\n%s", err, errOut)
			}
			if errOut != "" {
				t.Fatalf("stderr is not empty (it may be a log; the secret must not go there): %q", errOut)
			}
			secrets := tokenSecretRE.FindAllStringSubmatch(out, -1)
			lines := tokenLineRE.FindAllStringSubmatch(out, -1)
			if len(secrets) != 1 || len(lines) != 1 || !strings.Contains(out, "shown once") {
				t.Fatalf("want one labelled secret and one line, got:\n%s", out)
			}
			secret, line := secrets[0][1], lines[0][0]

			// The line is a JSON object, and pasted under tokens: it is a
			// valid auth file whose hash is the secret's.
			var fromJSON auth.Entry
			if err := json.Unmarshal([]byte(lines[0][1]), &fromJSON); err != nil {
				t.Fatalf("line is not JSON: %v\n%s", err, line)
			}
			entries, err := auth.ParseFile([]byte("tokens:\n" + line + "\n"))
			if err != nil {
				t.Fatalf("ParseFile of the printed line: %v\n%s", err, line)
			}
			want := tc.want
			want.Hash = auth.HashSecret(secret)
			if len(entries) != 1 || entries[0].Hash != want.Hash || entries[0].Name != want.Name ||
				entries[0].Role != want.Role || strings.Join(entries[0].Modules, ",") != strings.Join(want.Modules, ",") {
				t.Fatalf("entries %+v, want %+v", entries, want)
			}
			// And the secret authenticates as the token.
			p, err := auth.NewTokens(entries).Authenticate("Bearer " + secret)
			if err != nil || p.Name != want.Name {
				t.Fatalf("Authenticate with the printed secret: %v, %v", p, err)
			}
		})
	}
}

func TestTokenNewSecretsDiffer(t *testing.T) {
	a, _, err := tokenCmd(t, nil, "new", "--name", "a", "--role", "viewer")
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := tokenCmd(t, nil, "new", "--name", "a", "--role", "viewer")
	if sa, sb := tokenSecretRE.FindString(a), tokenSecretRE.FindString(b); sa == "" || sa == sb {
		t.Fatalf("two runs printed the same secret %q", sa)
	}
}

func TestTokenUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no subcommand", nil, "no subcommand"},
		{"unknown subcommand", []string{"revoke"}, `unknown subcommand "revoke"`},
		{"no name", []string{"new", "--role", "viewer"}, "--name: required"},
		{"bad name", []string{"new", "--name", "a b", "--role", "viewer"}, "--name:"},
		{"no role", []string{"new", "--name", "a"}, "--role: required"},
		{"invalid role", []string{"new", "--name", "a", "--role", "root"}, `--role: "root" is not a role`},
		{"producer without module", []string{"new", "--name", "a", "--role", "producer"}, "--module: required for a producer"},
		{"invalid module", []string{"new", "--name", "a", "--role", "producer", "--module", "a b"}, `--module: "a b" is not a module name`},
		{"module for a viewer", []string{"new", "--name", "a", "--role", "viewer", "--module", "education"}, "--module: only a producer"},
		{"unknown flag", []string{"new", "--name", "a", "--role", "viewer", "--secret", "x"}, "secret"},
		{"stray argument", []string{"new", "--name", "a", "--role", "viewer", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := tokenCmd(t, nil, tc.args...)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (exit %d), want a usage error with %q", err, exitCode(err), tc.want)
			}
			if strings.Contains(out, "cbt_") {
				t.Fatalf("a secret was printed for a refused token:\n%s", out)
			}
		})
	}
}

func TestTokenHelp(t *testing.T) {
	out, _, err := tokenCmd(t, nil, "new", "--help")
	if err != nil || !strings.Contains(out, "--module") || !strings.Contains(out, "COREBRIDGE_TOKEN_NEW_MODULE") {
		t.Fatalf("token new --help: %v\n%s", err, out)
	}
}
