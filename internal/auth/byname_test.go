package auth

import "testing"

func TestByName(t *testing.T) {
	tk := NewTokens([]Entry{
		{Name: "edu", Role: RoleProducer, Modules: []string{"education"}, Hash: HashSecret("cbt_edu")},
		{Name: "ops", Role: RoleOperator, Hash: HashSecret("cbt_ops")},
	})
	p, ok := tk.ByName("edu")
	if !ok || p.Name != "edu" || p.Role != RoleProducer || !p.MayProduce("education") || p.MayProduce("finance") {
		t.Fatalf("ByName(edu) = %+v, %v", p, ok)
	}
	p.Modules[0] = "finance" // a copy: the loaded set does not change
	if p, _ := tk.ByName("edu"); p.Modules[0] != "education" {
		t.Fatalf("ByName returned the loaded set's modules, not a copy")
	}
	for _, name := range []string{"", "ED", "nobody"} {
		if p, ok := tk.ByName(name); ok {
			t.Errorf("ByName(%q) = %+v, want none", name, p)
		}
	}
	if _, ok := new(Tokens).ByName("edu"); ok {
		t.Error("zero Tokens: ByName found a token")
	}
}
