// Package webtest helps the project's browser tests (chromedp driving
// Debian's Chromium): StartBrowser gives a headless tab with the steps every
// test repeats (actions that report where the page was when they failed,
// texts, screenshots, width checks, the staff sign-in), and an
// accessibility check with axe-core, run inside the page under test.
//
// axe-core comes from npm: the first check installs a pinned version into
// testout/node at the root of the repository (npm must be on the PATH and
// the npm registry reachable); later runs reuse it. Without npm or the
// registry the check is skipped with the reason, unless
// SWC_REQUIRE_SERVICES=1 makes that a failure.
//
// Use, in a chromedp test, one subtest per page:
//
//	axe := webtest.NewAxe()
//	...navigate to the page...
//	t.Run("a11y/overview", func(t *testing.T) { axe.Check(t, ctx) })
//
// Check fails the test for every violation of impact "serious" or
// "critical", naming the rule, its help text and the elements.
package webtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// AxeVersion is the axe-core release the checks use.
const AxeVersion = "4.14.1"

// envRequire is shared/servicetest's switch: a missing service fails
// instead of skipping.
const envRequire = "SWC_REQUIRE_SERVICES"

// Axe runs axe-core in pages. It installs axe-core once, on first use.
type Axe struct {
	once sync.Once
	src  string
	err  error
}

// NewAxe returns a checker; nothing is installed until the first Check.
func NewAxe() *Axe { return &Axe{} }

// Violation is one axe rule broken on the page.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n    %v %s", n.Target, n.HTML)
	}
	return b.String()
}

// Check runs axe-core on the page open in ctx and fails t for each serious
// or critical violation. When axe-core cannot be had it skips t with the
// reason (fails it under SWC_REQUIRE_SERVICES=1).
func (a *Axe) Check(t *testing.T, ctx context.Context) {
	t.Helper()
	src, err := a.source(ctx)
	if err != nil {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("axe-core is not available (%v), and %s=1 requires it", err, envRequire)
		}
		t.Skipf("axe-core is not available: %v", err)
	}
	vs, err := Run(ctx, src)
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("accessibility: %s", v)
		}
	}
}

// Run runs the axe-core source src in the page open in ctx (WCAG 2.1 A
// and AA rules and best practices) and returns every violation.
func Run(ctx context.Context, src string) ([]Violation, error) {
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";\ntypeof axe === 'object'")); err != nil {
		return nil, fmt.Errorf("load axe-core: %w", err)
	}
	js := `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
		resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("run axe-core: %w", err)
	}
	var vs []Violation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		return nil, fmt.Errorf("axe-core's answer: %w", err)
	}
	return vs, nil
}

func (a *Axe) source(ctx context.Context) (string, error) {
	a.once.Do(func() { a.src, a.err = install(ctx) })
	return a.src, a.err
}

// install returns axe.min.js from testout/node, installing it there first
// when absent (into a fresh folder renamed into place, so that concurrent
// test binaries never see half an install).
func install(ctx context.Context) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "testout", "node", "axe-core-"+AxeVersion)
	file := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
	if b, err := os.ReadFile(file); err == nil {
		return string(b), nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("npm is not on the PATH (apt-get install -y npm)")
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", tmp, "--no-audit", "--no-fund", "--no-save", "--ignore-scripts",
		"axe-core@"+AxeVersion)
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install axe-core@%s: %w: %s", AxeVersion, err, lastLines(string(out), 5))
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(file); statErr != nil { // not another binary's install
			return "", fmt.Errorf("install axe-core: %w", err)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("axe-core installed without axe.min.js: %w", err)
	}
	return string(b), nil
}

// repoRoot is the folder holding go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Source returns the axe-core script, installing it on first use.
func (a *Axe) Source(ctx context.Context) (string, error) { return a.source(ctx) }
