package auth

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		"tokens:\n  - {name: edu-1, role: producer, modules: [education], hash: " + h1 + "}\n",
		`{"tokens":[{"name":"a","role":"admin","hash":"` + h1 + `"},{"name":"b","role":"producer","modules":["*"],"hash":"` + h2 + `"}]}`,
		"tokens:\n  - name: v\n    role: viewer\n    hash: " + h3 + "\n",
		"tokens: []\n",
		"tokens:\n  - {name: a, role: viewer, secret: x}\n",
		"x: &a [*a]\n",
		"tokens: [{name: &n a, role: *n}]\n",
		"--- !!map\n? tokens\n: - {name: a}\n...\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseFile(data)
		if err != nil {
			if entries != nil {
				t.Fatalf("entries %v with error %v", entries, err)
			}
			return
		}
		if len(entries) == 0 {
			t.Fatal("no error and no entries")
		}
		names, hashes := map[string]bool{}, map[string]bool{}
		for _, e := range entries {
			if err := e.Validate(); err != nil {
				t.Fatalf("accepted an invalid entry %+v: %v", e, err)
			}
			if names[e.Name] || hashes[e.Hash] {
				t.Fatalf("accepted a duplicate name or hash: %+v", entries)
			}
			names[e.Name], hashes[e.Hash] = true, true
		}
	})
}

func FuzzAuthenticate(f *testing.F) {
	entries := []Entry{
		{Name: "edu", Role: RoleProducer, Modules: []string{"education"}, Hash: HashSecret("cbt_edu")},
		{Name: "ops", Role: RoleOperator, Hash: HashSecret("cbt_ops")},
		{Name: "root", Role: RoleAdmin, Hash: HashSecret("x")},
	}
	tk := NewTokens(entries)
	for _, seed := range []string{
		"Bearer cbt_edu", "bearer  cbt_ops", "Bearer x", "", " ", "Bearer", "Bearer ",
		"Basic dXNlcjpwYXNz", "Bearer cbt_edu\x00", "Bearer a==", "Bearer =", "bEaReR\tx",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		p, err := tk.Authenticate(header)
		if err != nil {
			if p != nil {
				t.Fatalf("principal %+v with error %v", p, err)
			}
			if !errors.Is(err, ErrNoCredentials) && !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("unexpected error %v", err)
			}
			if errors.Is(err, ErrNoCredentials) != (strings.Trim(header, " \t") == "") {
				t.Fatalf("%q: %v", header, err)
			}
			return
		}
		// A match is the entry whose hash is that of the token presented.
		fields := strings.Fields(header)
		if len(fields) != 2 || !strings.EqualFold(fields[0], "bearer") {
			t.Fatalf("%q authenticated as %+v", header, p)
		}
		i := slices.IndexFunc(entries, func(e Entry) bool { return e.Name == p.Name })
		if i < 0 || entries[i].Hash != HashSecret(fields[1]) || entries[i].Role != p.Role || !slices.Equal(entries[i].Modules, p.Modules) {
			t.Fatalf("%q authenticated as %+v", header, p)
		}
	})
}
