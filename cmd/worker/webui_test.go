package main

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// screenshotPath is the screenshot README.md shows. TestWebUIInABrowser
// writes it there when updateScreenshotEnv is set, and to its temporary
// directory otherwise, so that a test run leaves the tree as it was.
const screenshotPath = "../../docs/web-ui.png"

// updateScreenshotEnv, set to any value, makes TestWebUIInABrowser replace
// the screenshot at screenshotPath.
const updateScreenshotEnv = "OPTIO_UPDATE_SCREENSHOT"

// findChromium returns the path of a Chromium or Chrome binary. Without one
// the test is skipped, unless CI=true, where it fails.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI=true: install it (apt-get install -y chromium)")
	}
	t.Skip("skipping the Web UI browser test: chromium is not installed (apt-get install -y chromium); under CI=true this fails")
	return ""
}

// The Web UI that `go run ./cmd/worker` serves, driven by a real headless
// browser, finds processes by optio's search attributes and shows a parent
// process's children under Relationships.
func TestWebUIInABrowser(t *testing.T) {
	chromium := findChromium(t)
	began := time.Now()
	cfg := freePorts(t)
	// demo-marathon runs 90 s, so it is running whenever the slow first
	// page load ends.
	cfg.Launch = []string{"demo-marathon", "demo-parallel"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := startRun(t, ctx, cfg).awaitOutput(t, webUIURL)

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // root in a container has no user namespace for the sandbox
		chromedp.WindowSize(1400, 900),
	)...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	browser, cancelTimeout := context.WithTimeout(browser, 8*time.Minute)
	defer cancelTimeout()

	// waitPage reloads the page until its text satisfies ok, as an
	// operator would while a list catches up, and returns the text. Under
	// -race on a loaded machine a page's first data can take a minute or
	// more (a CI run saw a workflow's page show no tabs for 45 s), so it
	// tries for 3 minutes; and a page can take longer than 5 s to load,
	// so each load is given 20 s before the next replaces it (two CI runs
	// saw a workflow's page reloaded every 5 s never come up).
	waitPage := func(page, what string, ok func(text string) bool) string {
		t.Helper()
		var text string
		deadline := time.Now().Add(3 * time.Minute)
		for {
			require.NoError(t, chromedp.Do(browser, chromedp.Navigate(page)))
			for range 80 {
				require.NoError(t, chromedp.Do(browser, chromedp.Sleep(250*time.Millisecond)))
				var err error
				text, err = chromedp.Run(browser, chromedp.Evaluate[string](`document.body.innerText`))
				require.NoError(t, err)
				if ok(text) {
					return text
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never showed %s; it shows:\n%s", page, what, text)
			}
		}
	}
	has := func(want ...string) func(string) bool {
		return func(text string) bool {
			for _, w := range want {
				if !strings.Contains(text, w) {
					return false
				}
			}
			return true
		}
	}

	// The list filtered by OptioState shows the running processes, under
	// their workflow IDs ({db}/{prefix}:{processId}): demo-marathon, and
	// demo-parallel and its items if the first page load (slow on a
	// loaded machine) is quick enough.
	list := base + "/namespaces/default/workflows?query=" + url.QueryEscape(`OptioState = "running"`)
	text := waitPage(list, "demo-marathon", has("optio_demo/optio:demo-marathon", "RUNNING"))
	t.Logf("%s shows (%s in):\n%s", list, time.Since(began).Round(time.Millisecond), excerpt(text, "optio_demo/"))
	shot, err := chromedp.Run(browser, chromedp.FullScreenshot(100)) // 100: PNG
	require.NoError(t, err)
	require.NotEmpty(t, shot, "screenshot")
	shotPath := filepath.Join(t.TempDir(), "web-ui.png")
	if os.Getenv(updateScreenshotEnv) != "" {
		shotPath = screenshotPath
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(shotPath), 0o755))
	require.NoError(t, os.WriteFile(shotPath, shot, 0o644))
	// run set a umask that keeps new files the owner's; this one is a doc.
	require.NoError(t, os.Chmod(shotPath, 0o644))

	// demo-parallel's page (the UI adds the latest run's ID to the
	// address) lists its children workflow and the items under
	// Relationships.
	waitPage(base+"/namespaces/default/workflows/"+url.PathEscape("optio_demo/optio:demo-parallel"), "its tabs", has("Relationships"))
	page, err := chromedp.Run(browser, chromedp.Location())
	require.NoError(t, err)
	runPage := regexp.MustCompile(`^(.*/workflows/[^/]+/[^/]+)(/[a-z-]+)?$`).FindStringSubmatch(page)
	require.NotNil(t, runPage, page)
	waitPage(runPage[1]+"/relationships", "the children workflow", has("optio_demo/optio:demo-parallel#children", "Expand All"))
	clicked, err := chromedp.Run(browser, chromedp.Evaluate[bool](expandAll))
	require.NoError(t, err)
	require.True(t, clicked, "no Expand All control on the Relationships page")
	// The tree loads a node's children when it is shown, so one click may
	// expand only what was loaded then: click again while the control
	// still reads "Expand All". The page is a snapshot: items started
	// after it loaded (a slow run, under -race) show only once it is
	// loaded again, so the first and the last item are looked for on a
	// page loaded anew every 15 s (a load can take more than 5 s).
	deadline := time.Now().Add(3 * time.Minute)
	reloaded := time.Now()
	for !has("optio_demo/optio:demo-parallel/item-00", "optio_demo/optio:demo-parallel/item-19")(text) {
		if time.Now().After(deadline) {
			t.Fatalf("Relationships, expanded, never showed the items; it shows:\n%s", text)
		}
		if time.Since(reloaded) > 15*time.Second {
			waitPage(runPage[1]+"/relationships", "the children workflow", has("optio_demo/optio:demo-parallel#children", "Expand All"))
			reloaded = time.Now()
		}
		require.NoError(t, chromedp.Do(browser, chromedp.Sleep(500*time.Millisecond)))
		_, err = chromedp.Run(browser, chromedp.Evaluate[bool](expandAll))
		require.NoError(t, err)
		text, err = chromedp.Run(browser, chromedp.Evaluate[string](`document.body.innerText`))
		require.NoError(t, err)
	}
	t.Logf("Relationships of demo-parallel (%s in):\n%s", time.Since(began).Round(time.Millisecond), excerpt(text, "demo-parallel"))

	// Once demo-parallel is done, the list filtered by "running" no longer
	// shows it, and the one filtered by "done" does. demo-marathon is not
	// looked for here: under -race on a loaded machine demo-parallel can
	// outlast its 90 s (a CI run saw the list empty by then).
	waitPage(list, "no demo-parallel", func(text string) bool {
		loaded := strings.Contains(text, "optio_demo/optio:demo-marathon") || strings.Contains(text, "No Workflows Found")
		return loaded && !strings.Contains(text, "optio_demo/optio:demo-parallel")
	})
	done := base + "/namespaces/default/workflows?query=" + url.QueryEscape(`OptioState = "done"`)
	waitPage(done, "demo-parallel and its items", has("optio_demo/optio:demo-parallel", "optio_demo/optio:demo-parallel/item-"))
	t.Logf("browser test took %s", time.Since(began).Round(time.Millisecond))
}

// expandAll clicks the innermost element that reads "Expand All" (the
// Relationships tree's control) and reports whether there was one.
const expandAll = `(() => {
	const els = [...document.querySelectorAll("*")].filter(e => e.innerText && e.innerText.trim() === "Expand All");
	if (els.length === 0) return false;
	els[els.length - 1].click();
	return true;
})()`

// excerpt returns the lines of s that contain sub, at most ten.
func excerpt(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && len(out) < 10 {
			out = append(out, "  "+strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}
