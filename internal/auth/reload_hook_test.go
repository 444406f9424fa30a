package auth

import (
	"os"
	"testing"
)

// TestOnReload: the hook hears of every reload attempt, good or failed,
// with its trigger, the tokens in use after it and the error.
func TestOnReload(t *testing.T) {
	path := writeAuthFile(t, "tokens:\n  - {name: a, role: admin, hash: "+HashSecret("cbt_a")+"}\n")
	tk, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		trigger string
		tokens  int
		err     bool
	}
	var got []call
	tk.OnReload(func(trigger string, tokens int, err error) { got = append(got, call{trigger, tokens, err != nil}) })
	if err := os.WriteFile(path, []byte("tokens: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = tk.Reload()
	good := "tokens:\n  - {name: b, role: viewer, hash: " + HashSecret("cbt_b") + "}\n" +
		"  - {name: c, role: viewer, hash: " + HashSecret("cbt_c") + "}\n"
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = tk.reload("SIGHUP")
	want := []call{{"reload", 1, true}, {"SIGHUP", 2, false}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("hook calls %+v, want %+v", got, want)
	}
	tk.OnReload(nil)
	_ = tk.Reload()
	if len(got) != 2 {
		t.Errorf("hook called after it was removed: %+v", got)
	}
}
