package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath returns the Chromium the browser tests drive:
// $COREBRIDGE_CHROMIUM, else /usr/bin/chromium (Debian's, which .ci/run
// installs). Without one the test is skipped, unless
// COREBRIDGE_REQUIRE_CHROMIUM=1, when it fails: CI must not pass by skipping.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("COREBRIDGE_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		if os.Getenv("COREBRIDGE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("COREBRIDGE_REQUIRE_CHROMIUM=1 but there is no Chromium at %s: %v", p, err)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium, or set COREBRIDGE_CHROMIUM): %v", p, err)
	}
	return p
}

// browser is one headless Chromium with one tab, recording every console
// error, uncaught exception and error log entry (a failed load) the page
// produces.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

// newBrowser starts Chromium with a width×height window. It is closed, and
// waited for, when the test ends.
func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	exe := chromiumPath(t)
	dir := t.TempDir() // removed after the cleanup below has stopped Chromium
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(width, height),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		defer ccancel()
		chromedp.Cancel(cctx) // closes the browser and waits for it to exit
		cancel()
		cancelAlloc()
	})
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout
		t.Fatalf("start Chromium: %v", err)
	}
	t.Logf("Chromium ready in %s", time.Since(start).Round(time.Millisecond))
	err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				p = "console.error: " + strings.Join(args, " ")
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			p = fmt.Sprintf("exception: %s %s:%d", d.Text, d.URL, d.LineNumber)
			if d.Exception != nil {
				p += " " + d.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				p = fmt.Sprintf("log error (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if p != "" {
			b.mu.Lock()
			b.problems = append(b.problems, p)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listen to the page: %v", err)
	}
	return b
}

// Problems returns what the page reported as errors so far.
func (b *browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// do runs actions with a timeout, failing the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval runs a JavaScript expression and decodes its value into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// click finds the element sel matches and clicks it in one step, waiting
// up to liveWait for it to exist. The page re-renders its lists when live
// events arrive, so a node found in one DevTools call (chromedp.Click)
// may be gone by the next; a script runs between two renders.
func (b *browser) click(what, sel string) {
	b.t.Helper()
	b.waitJS(what, liveWait, fmt.Sprintf(`(() => { const e = document.querySelector(%q);
		if (!e) return false; e.click(); return true; })()`, sel))
}

// typeInto sets the value of the field sel matches as typing would (an
// input event follows), in one step like click.
func (b *browser) typeInto(what, sel, value string) {
	b.t.Helper()
	b.waitJS(what, liveWait, fmt.Sprintf(`(() => { const e = document.querySelector(%q);
		if (!e) return false; e.value = %q; e.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`, sel, value))
}

// open loads the dashboard and waits until its script has shown a status.
func (b *browser) open(base string) {
	b.t.Helper()
	b.do("open the dashboard", chromedp.Navigate(base+"/"))
	b.waitJS("a status from the bridge", 10*time.Second, `document.getElementById('status').dataset.status !== 'unknown'`)
}

// waitJS polls a JavaScript condition every 25 ms until it is true and
// returns how long that took; it fails the test at the deadline, showing
// the page's state.
func (b *browser) waitJS(what string, d time.Duration, cond string) time.Duration {
	b.t.Helper()
	start := time.Now()
	for {
		if eval[bool](b, "!!("+cond+")") {
			return time.Since(start)
		}
		if time.Since(start) > d {
			b.screenshot("timeout-" + what)
			b.t.Fatalf("timed out after %s waiting for %s (%s)\npage: %s\nproblems: %q", d, what, cond, b.state(), b.Problems())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// state summarises the page for failure messages.
func (b *browser) state() string {
	return eval[string](b, `JSON.stringify({
		status: document.getElementById('status').dataset.status,
		word: document.getElementById('status-word').textContent,
		live: document.getElementById('live-state').dataset.live,
		notice: !document.getElementById('live-notice').hidden,
		events: document.querySelectorAll('#events li').length,
		eventsNote: document.getElementById('events-note').textContent,
		modulesNote: document.getElementById('modules-note').textContent,
		dlNote: document.getElementById('dl-note').textContent,
		deadRows: document.querySelectorAll('#dl-rows tr[data-id]').length,
	})`)
}

// outputs reads the raw figures (data-value) of the page's <output>s.
func (b *browser) outputs() map[string]string {
	b.t.Helper()
	raw := eval[string](b, `JSON.stringify(Object.fromEntries([...document.querySelectorAll('output[id]')].map(o => [o.id, o.dataset.value])))`)
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		b.t.Fatal(err)
	}
	return m
}

// darkMode makes prefers-color-scheme report dark (or light).
func (b *browser) colorScheme(scheme string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
	if err != nil {
		b.t.Fatalf("emulate %s: %v", scheme, err)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// screenshotDir is where screenshots go for a person to look at:
// $COREBRIDGE_SCREENSHOTS, else a directory under the system's temp dir.
// PNGs are ignored by git wherever they land.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("COREBRIDGE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "corebridge-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot dir: %v", err)
	}
	return dir
}

// screenshot saves the whole page as <test>-<name>.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(screenshotDir(b.t), unsafeName.ReplaceAllString(b.t.Name()+"-"+name, "_")+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Errorf("write screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot: %s", file)
}
