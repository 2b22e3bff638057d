package webtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// NeedChromium skips t when Chromium is absent, unless
// SWC_REQUIRE_SERVICES=1 makes that a failure. Nothing is installed here:
// `apt-get install -y chromium chromium-driver` does (.ci/run runs it).
func NeedChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err == nil {
		return
	}
	msg := fmt.Sprintf("%s is absent: the browser test needs Debian's chromium (apt-get install -y chromium chromium-driver)", ChromiumPath)
	if os.Getenv(envRequire) == "1" {
		t.Fatalf("%s, and %s=1 requires it", msg, envRequire)
	}
	t.Skip(msg)
}

// ScreenshotDir is testout/screenshots at the root of the repository,
// created when absent.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "testout", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// Browser is one headless Chromium tab driven by a test, with the steps
// every browser test of the project repeats: run actions and report where
// the page was when one failed, read a text, check that an element exists,
// take a screenshot, check the page with axe-core, check that nothing is
// wider than the viewport.
type Browser struct {
	// Ctx is the tab's context, for chromedp calls the helpers do not cover.
	Ctx context.Context
	// Shots is the folder screenshots go to (ScreenshotDir).
	Shots string
	// Width is the viewport width Fits compares the page with; Viewport
	// sets it.
	Width int

	t   *testing.T
	axe *Axe
}

// StartBrowser starts headless Chromium with a fresh profile at 1280×900
// and returns its tab; everything it needs is shut down when t ends, and
// the tab's context ends after timeout. It skips (or fails, see
// NeedChromium) when Chromium is absent.
func StartBrowser(t *testing.T, timeout time.Duration) *Browser {
	t.Helper()
	NeedChromium(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ChromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	ctx, cancelTab := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	return &Browser{Ctx: ctx, Shots: ScreenshotDir(t), Width: 1280, t: t, axe: NewAxe()}
}

// Do runs the actions and fails the test when one fails, saying what was
// being done, where the page was and what it showed.
func (b *Browser) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.Ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.Ctx, chromedp.Location())
		body, _ := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("body")))
		b.t.Fatalf("%s: %v; at %s: %s", what, err, loc, lastLines(body, 30))
	}
}

// Text is the text of the first element matching the CSS selector.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Exists says whether an element matches the CSS selector now.
func (b *Browser) Exists(sel string) bool {
	b.t.Helper()
	ok, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, sel)))
	if err != nil {
		b.t.Fatalf("look for %s: %v", sel, err)
	}
	return ok
}

// Shoot writes a full-page screenshot to Shots/name and returns its path.
func (b *Browser) Shoot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.Shots, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// A11y checks the open page with axe-core in a subtest named a11y/page.
func (b *Browser) A11y(page string) {
	b.t.Helper()
	b.t.Run("a11y/"+page, func(t *testing.T) { b.axe.Check(t, b.Ctx) })
}

// Viewport emulates a screen of width×height CSS pixels (at scale 2, like
// a phone) and makes Fits compare with width.
func (b *Browser) Viewport(width, height int) {
	b.t.Helper()
	b.Do(fmt.Sprintf("viewport %d×%d", width, height),
		chromedp.EmulateViewport(int64(width), int64(height), chromedp.EmulateScale(2)))
	b.Width = width
}

// Fits fails the test when the open page scrolls sideways at the current
// width.
func (b *Browser) Fits(page string) {
	b.t.Helper()
	w, err := chromedp.Run(b.Ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		b.t.Fatalf("width of %s: %v", page, err)
	}
	if w > b.Width {
		wide, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[string](fmt.Sprintf(wideJS, b.Width)))
		b.t.Errorf("%s scrolls sideways at %d px: %d px wide; sticking out: %s", page, b.Width, w, wide)
	}
}

// wideJS names the innermost elements whose right edge passes %d px (at
// most five), to say what makes a page scroll sideways.
const wideJS = `(() => {
	const out = [];
	for (const e of document.querySelectorAll("body *")) {
		const r = e.getBoundingClientRect();
		if (r.right <= %d || [...e.children].some(c => c.getBoundingClientRect().right >= r.right)) continue;
		out.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + String(e.className).split(" ").join(".") : "") +
			" (right " + Math.round(r.right) + " px: " + JSON.stringify((e.textContent || "").trim().slice(0, 40)) + ")");
		if (out.length === 5) break;
	}
	return out.join("; ") || "nothing visible";
})()`

// StaffSignIn signs a staff account in at base+"/login": e-mail and
// password, then the TOTP code that code returns, and waits for the
// overview.
func (b *Browser) StaffSignIn(base, email, password string, code func() string) {
	b.t.Helper()
	b.Do("sign in as "+email, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login")), chromedp.WaitVisible(chromedp.CSS("#code")))
	b.Do("second factor of "+email, chromedp.SendKeys(chromedp.CSS("#code"), code()), chromedp.Click(chromedp.CSS("#verify")),
		chromedp.WaitVisible(chromedp.CSS("#summary")))
}
