package main

import (
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardSignIn: with an auth file the page asks for a token once,
// then works on an HttpOnly session cookie that its script cannot read;
// what it offers follows the role (a viewer is not offered replay, an
// operator is); sign-out asks again.
func TestDashboardSignIn(t *testing.T) {
	b := newBrowser(t, 1280, 900)
	base, _ := startServe(t, "--data-dir", t.TempDir(), "--auth-file", writeAuthFile(t))
	signIn := func(token string) {
		t.Helper()
		b.waitJS("the sign-in form", 10*time.Second, `!document.getElementById('signin').hidden && document.getElementById('main').hidden`)
		b.typeInto("the token", "#signin-token", token)
		b.click("sign in", "#signin-form button[type=submit]")
		b.waitJS("the dashboard after sign-in", 10*time.Second, `document.getElementById('signin').hidden && !document.getElementById('main').hidden`)
		b.waitJS("live updates", 10*time.Second, `document.getElementById('live-state').dataset.live === 'live'`)
		b.waitJS("a status", 10*time.Second, `document.getElementById('status').dataset.status !== 'unknown'`)
	}
	offered := func() bool {
		return eval[bool](b, `getComputedStyle(document.getElementById('dl-replay-selected')).display !== 'none'`)
	}

	b.do("open the dashboard", chromedp.Navigate(base+"/"))
	b.typeInto("a wrong token", "#signin-token", "cbt_not_a_token")
	b.click("sign in", "#signin-form button[type=submit]")
	b.waitJS("the refusal", 5*time.Second, `/not valid/.test(document.getElementById('signin-note').textContent)`)

	// A producer's request for a module not on its token is refused: the
	// security panel counts it once the page is signed in.
	if got := call(t, "POST", base+"/core/update", testSecrets["producer-edu"], `{"module":"finance","data":{}}`); got != 403 {
		t.Fatalf("producer of education sending finance: %d, want 403", got)
	}

	signIn(testSecrets["viewer"])
	b.waitJS("who is signed in", 5*time.Second, `/signed in as viewer \(viewer\)/.test(document.getElementById('meta-who').textContent)`)
	if got := eval[string](b, `document.getElementById('meta-auth').textContent`); got != "tokens required" {
		t.Errorf("Access shows %q, want tokens required", got)
	}
	if eval[bool](b, `document.cookie.includes('corebridge_session')`) {
		t.Error("the session cookie is readable by the page's script (want HttpOnly)")
	}
	if offered() {
		t.Error("a viewer is offered Replay")
	}
	b.waitJS("the security panel", 5*time.Second,
		`document.querySelector('#sec-counts [data-key="forbidden_24h"] dd')?.textContent === '1'`)

	b.click("sign out", "#signout")
	signIn(testSecrets["operator"])
	if !offered() {
		t.Error("an operator is not offered Replay")
	}

	// The operator's actions show in the audit panel, newest first, with
	// who did them: a replay (of nothing here), the sign-ins, the refused one.
	eval[bool](b, `(fetch('/api/dead-letters/replay', {method: 'POST',
		headers: {'Content-Type': 'application/json'}, body: '{"all":true}'}), true)`)
	b.waitJS("the replay in the operator actions panel", 10*time.Second,
		`document.querySelector('#audit-rows tr[data-action="replay"]') !== null`)
	rows := eval[[]string](b, `[...document.querySelectorAll('#audit-rows tr')].map((tr) => [...tr.cells].slice(1).map((c) => c.textContent).join(' | '))`)
	want := []string{"operator (operator) | replay | all | 0", "operator (operator) | login | — | 0", "viewer (viewer) | logout | — | 0",
		"viewer (viewer) | login | — | 0", "unknown | login failed | — | 0"}
	if !slices.Equal(rows, want) {
		t.Errorf("operator actions panel rows:\n%q\nwant\n%q", rows, want)
	}
}
