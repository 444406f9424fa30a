package auth

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Hashes of the secrets "s1", "s2", "s3".
var (
	h1 = HashSecret("s1")
	h2 = HashSecret("s2")
	h3 = HashSecret("s3")
)

// writeAuthFile writes content to a file in a fresh temporary directory
// with mode 0600 and returns its path.
func writeAuthFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "auth.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseFileValid(t *testing.T) {
	want := []Entry{
		{Name: "edu-1", Role: RoleProducer, Modules: []string{"education", "finance"}, Hash: h1},
		{Name: "any.producer", Role: RoleProducer, Modules: []string{"*"}, Hash: h2},
		{Name: "ops_team", Role: RoleOperator, Hash: h3},
	}
	for _, tc := range []struct{ name, content string }{
		{"yaml", `# who may talk to the bridge
tokens:
  - name: edu-1
    role: producer
    modules: [education, finance]
    hash: ` + h1 + `
  - name: any.producer
    role: producer
    modules:
      - "*"
    hash: "` + h2 + `"
  - {name: ops_team, role: operator, hash: ` + h3 + `}
`},
		{"json", `{
	"tokens": [
		{"name": "edu-1", "role": "producer", "modules": ["education", "finance"], "hash": "` + h1 + `"},
		{"name": "any.producer", "role": "producer", "modules": ["*"], "hash": "` + h2 + `"},
		{"name": "ops_team", "role": "operator", "modules": null, "hash": "` + h3 + `"}
	]
}`},
		{"json-lines-as-printed-by-token-new", "tokens:\n" +
			`  - {"name":"edu-1","role":"producer","modules":["education","finance"],"hash":"` + h1 + `"}` + "\n" +
			`  - {"name":"any.producer","role":"producer","modules":["*"],"hash":"` + h2 + `"}` + "\n" +
			`  - {"name":"ops_team","role":"operator","hash":"` + h3 + `"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Through a real file, as serve reads it.
			data, err := os.ReadFile(writeAuthFile(t, tc.content))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseFile(data)
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseFileInvalid(t *testing.T) {
	entry := func(fields string) string { return "tokens:\n  - {" + fields + "}\n" }
	ok1 := `name: a, role: viewer, hash: ` + h1
	for _, tc := range []struct {
		name, content string
		want          []string // substrings of the error, in order
	}{
		{"empty file", "", []string{"empty"}},
		{"only a comment", "# nothing\n", []string{"empty"}},
		{"not yaml", "tokens: [\n", []string{"auth file"}},
		{"top level is a list", "- a\n", []string{"want an object with tokens"}},
		{"unknown top-level key", "tokens: []\nusers: []\n", []string{`unknown key "users"`}},
		{"no tokens key", "{}\n", []string{"no tokens: nobody could authenticate"}},
		{"empty token list", "tokens: []\n", []string{"no tokens: nobody could authenticate"}},
		{"null token list", "tokens:\n", []string{"no tokens: nobody could authenticate"}},
		{"tokens not a list", "tokens: {a: 1}\n", []string{"tokens: want a list"}},
		{"tokens twice", "tokens: [{" + ok1 + "}]\ntokens: [{" + ok1 + "}]\n", []string{"tokens given twice"}},
		{"two documents", "tokens: [{" + ok1 + "}]\n---\ntokens: []\n", []string{"more than one YAML document"}},
		{"entry not an object", "tokens: [viewer]\n", []string{"tokens[0]", "want an object"}},
		{"name missing", entry(`role: viewer, hash: ` + h1), []string{"tokens[0]", "name: required"}},
		{"name null", entry(`name: null, role: viewer, hash: ` + h1), []string{"tokens[0]", "name: required"}},
		{"name with a space", entry(`name: "a b", role: viewer, hash: ` + h1), []string{`tokens[0] ("a b")`, "name:"}},
		{"name starts with a dash", entry(`name: -a, role: viewer, hash: ` + h1), []string{"tokens[0]", "name:"}},
		{"name too long", entry(`name: ` + strings.Repeat("a", 65) + `, role: viewer, hash: ` + h1), []string{"tokens[0]", "name:"}},
		{"name not a string", entry(`name: [a], role: viewer, hash: ` + h1), []string{"tokens[0]", "name: want a string"}},
		{"name twice in the file", "tokens:\n  - {" + ok1 + "}\n  - {name: a, role: admin, hash: " + h2 + "}\n",
			[]string{`tokens[1] ("a")`, "name:", "already used by tokens[0]"}},
		{"field given twice", entry(ok1 + `, role: admin`), []string{`tokens[0] ("a")`, `field "role" given twice`}},
		{"role missing", entry(`name: a, hash: ` + h1), []string{`tokens[0] ("a")`, "role: required"}},
		{"role unknown", entry(`name: a, role: root, hash: ` + h1), []string{`tokens[0] ("a")`, `role: "root" is not a role`}},
		{"role wrong case", entry(`name: a, role: Admin, hash: ` + h1), []string{`tokens[0] ("a")`, "role:"}},
		{"producer without modules", entry(`name: p, role: producer, hash: ` + h1), []string{`tokens[0] ("p")`, "modules: required for a producer"}},
		{"producer with empty modules", entry(`name: p, role: producer, modules: [], hash: ` + h1), []string{`tokens[0] ("p")`, "modules: required"}},
		{"producer with a bad module", entry(`name: p, role: producer, modules: ["edu cation"], hash: ` + h1), []string{`tokens[0] ("p")`, `modules: "edu cation" is not a module name`}},
		{"producer with * and more", entry(`name: p, role: producer, modules: ["*", edu], hash: ` + h1), []string{`tokens[0] ("p")`, "modules:", "any module"}},
		{"producer with a module twice", entry(`name: p, role: producer, modules: [edu, edu], hash: ` + h1), []string{`tokens[0] ("p")`, `modules: "edu" listed twice`}},
		{"modules not a list", entry(`name: p, role: producer, modules: edu, hash: ` + h1), []string{`tokens[0] ("p")`, "modules: want a list"}},
		{"viewer with modules", entry(`name: v, role: viewer, modules: [edu], hash: ` + h1), []string{`tokens[0] ("v")`, "modules: only a producer"}},
		{"hash missing", entry(`name: a, role: viewer`), []string{`tokens[0] ("a")`, "hash: required"}},
		{"hash without algorithm", entry(`name: a, role: viewer, hash: ` + strings.TrimPrefix(h1, "sha256:")), []string{`tokens[0] ("a")`, "hash: want sha256:"}},
		{"hash in upper case", entry(`name: a, role: viewer, hash: ` + strings.ToUpper(h1)), []string{`tokens[0] ("a")`, "hash:"}},
		{"hash too short", entry(`name: a, role: viewer, hash: ` + h1[:70]), []string{`tokens[0] ("a")`, "hash:"}},
		{"hash not hex", entry(`name: a, role: viewer, hash: sha256:` + strings.Repeat("g", 64)), []string{`tokens[0] ("a")`, "hash:"}},
		{"same hash twice", "tokens:\n  - {" + ok1 + "}\n  - {name: b, role: admin, hash: " + h1 + "}\n",
			[]string{`tokens[1] ("b")`, "hash:", `same as tokens[0] ("a")`}},
		{"a secret instead of a hash", entry(`name: a, role: viewer, secret: cbt_abc`), []string{`tokens[0] ("a")`, "secret:", "hashes only"}},
		{"a typo", entry(ok1 + `, moduels: [edu]`), []string{`tokens[0] ("a")`, `unknown field "moduels"`}},
		{"an alias", "x: &m [edu]\ntokens: [{name: p, role: producer, modules: *m, hash: " + h1 + "}]\n", []string{`unknown key "x"`}},
		{"an alias in an entry", "tokens: [{name: p, role: producer, modules: &m [edu], hash: " + h1 + "}, {name: q, role: producer, modules: *m, hash: " + h2 + "}]\n",
			[]string{`tokens[1] ("q")`, "modules: want a list"}},
		{"second entry bad", "tokens:\n  - {" + ok1 + "}\n  - {name: b, role: viewer}\n", []string{"line 3", `tokens[1] ("b")`, "hash: required"}},
		{"too large", "tokens:\n#" + strings.Repeat("x", MaxFileSize) + "\n", []string{"larger than"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFile([]byte(tc.content))
			if err == nil {
				t.Fatalf("no error; got %+v", got)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q: want %q (in order: %q)", msg, w, tc.want)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// The secret is never echoed: a secret pasted into hash: must not reach a log.
func TestParseFileDoesNotEchoAMisplacedSecret(t *testing.T) {
	_, err := ParseFile([]byte("tokens:\n  - {name: a, role: viewer, hash: cbt_SuperSecretValue}\n"))
	if err == nil || strings.Contains(err.Error(), "SuperSecret") {
		t.Fatalf("err = %v", err)
	}
}

func TestEntryValidateFieldError(t *testing.T) {
	err := Entry{Name: "p", Role: RoleProducer, Hash: h1}.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "modules" {
		t.Fatalf("err = %v, want a *FieldError on modules", err)
	}
	if err := (Entry{Name: "p", Role: RoleProducer, Modules: []string{"*"}, Hash: h1}).Validate(); err != nil {
		t.Fatal(err)
	}
}
