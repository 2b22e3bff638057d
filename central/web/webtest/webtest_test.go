package webtest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/web/webtest"
)

// TestAxeFindsViolations serves pages under the dashboard's Content
// Security Policy and runs the check on them in Chromium: a page with an
// unlabelled field, a nameless button and an image without text has
// serious or critical violations, named by rule; a clean page has none.
func TestAxeFindsViolations(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		if os.Getenv("SWC_REQUIRE_SERVICES") == "1" {
			t.Fatal("/usr/bin/chromium is absent, and SWC_REQUIRE_SERVICES=1 requires it")
		}
		t.Skip("/usr/bin/chromium is absent: apt-get install -y chromium chromium-driver")
	}
	pages := map[string]string{
		"/bad":  `<!doctype html><html lang="en"><head><title>Bad</title></head><body><main><h1>Bad</h1><img src="/x.png"><input type="text"><button></button></main></body></html>`,
		"/good": `<!doctype html><html lang="en"><head><title>Good</title></head><body><main><h1>Good</h1><label for="q">Name</label><input id="q" type="text"><button>Go</button></main></body></html>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'")
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = rw.Write([]byte(body))
	}))
	defer srv.Close()

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath("/usr/bin/chromium"), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()))
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()

	axe := webtest.NewAxe()
	// Check itself installs axe-core (or skips); Run needs the source.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good")))
	t.Run("good page passes", func(t *testing.T) { axe.Check(t, ctx) })
	src, err := axe.Source(ctx)
	if err != nil {
		t.Skipf("axe-core is not available: %v", err) // Check above already failed under SWC_REQUIRE_SERVICES=1
	}

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad")))
	vs, err := webtest.Run(ctx, src)
	require.NoError(t, err)
	serious := map[string]bool{}
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			serious[v.ID] = true
		}
	}
	for _, rule := range []string{"image-alt", "label", "button-name"} {
		assert.True(t, serious[rule], "rule %s is reported; got %v", rule, vs)
	}
}
