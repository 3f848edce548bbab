package e2e

// Browser tests: the room page driven in a real Chromium through chromedp,
// against the real server (startServer, in hub_test.go). One browser process
// for the whole file; each person is a separate browser context (own cookies
// and storage), as two people on two machines would be. The tests wait on
// DOM state (Poll, WaitVisible) with timeouts, never on sleeps.
//
// Needs Debian's chromium (apt-get install chromium). Without it the tests
// skip, except under CI (CI non-empty) where a missing browser is a failure.
// FILEHUB_CHROMIUM overrides the browser's path. On failure, screenshots and
// console logs go to $FILEHUB_ARTIFACTS (or a temporary folder, logged);
// with FILEHUB_ARTIFACTS set, room.png always shows a two-member room.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserWait bounds every wait on the page: generous for a loaded 2-core
// machine under -race, short enough that a hang fails fast.
const browserWait = 10 * time.Second

// hostile is a name that would run script if any code path used innerHTML.
const hostile = `<img src=x onerror=alert(1)>`

// chromiumPath finds the browser: FILEHUB_CHROMIUM, then the usual names.
func chromiumPath() string {
	if p := os.Getenv("FILEHUB_CHROMIUM"); p != "" {
		p, _ = exec.LookPath(p) // "" when it is not there: reported as missing
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startBrowser starts one headless Chromium for the test and returns its
// context; it is closed at cleanup.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		msg := "no Chromium found (install Debian's chromium: apt-get install -y chromium, or set FILEHUB_CHROMIUM)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// The first Run starts the browser and binds its life to the context it
	// gets: browserCtx itself, not one with a timeout.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return browserCtx
}

// tab is one person's page in its own browser context.
type tab struct {
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []string // everything the console said, for the artifacts
	errs    []string // exceptions, console errors, non-network error logs
	dialogs []string // alert/confirm/prompt: never expected
}

// openTab opens url in a new browser context and records its console.
// Actions in setup (the viewport of a phone, scripts to run before the
// page's own) run before the page loads.
func openTab(t *testing.T, browserCtx context.Context, name, url string, setup ...chromedp.Action[chromedp.Void]) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{name: name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // creates the tab, so Listen has a target
		t.Fatalf("%s: new tab: %v", name, err)
	}
	if err := chromedp.Listen(ctx, tb.event); err != nil {
		t.Fatalf("%s: listen: %v", name, err)
	}
	tb.do(t, "set up the tab", setup...)
	tb.navigate(t, url)
	return tb
}

// withScript runs the JavaScript file path (in web/testdata) in the tab
// before the page's own scripts, on every load.
func withScript(t *testing.T, path string) chromedp.Action[chromedp.Void] {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "web", "testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return withSource(string(src))
}

// withSource runs the JavaScript src in the tab before the page's own scripts.
func withSource(src string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
		return err
	})
}

// event runs in the tab's event loop: record, never block, run no command
// here (the dialog is dismissed from a goroutine).
func (tb *tab) event(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		line := fmt.Sprintf("exception: %s (%s:%d)", msg, d.URL, d.LineNumber+1)
		tb.console = append(tb.console, line)
		tb.errs = append(tb.errs, line)
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			switch {
			case len(a.Value) > 0:
				parts = append(parts, string(a.Value))
			default:
				parts = append(parts, a.Description)
			}
		}
		line := fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " "))
		tb.console = append(tb.console, line)
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			tb.errs = append(tb.errs, line)
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		line := fmt.Sprintf("log %s/%s: %s %s", e.Source, e.Level, e.Text, e.URL)
		tb.console = append(tb.console, line)
		// Network errors are the browser reporting statuses the tests ask
		// for (404 for a missing file, the refused and failed handshakes
		// while the server restarts); everything else (CSP, JavaScript,
		// security) is a defect.
		if e.Level == log.EntryLevelError && e.Source != log.EntrySourceNetwork {
			tb.errs = append(tb.errs, line)
		}
	case *page.EventJavascriptDialogOpening:
		tb.dialogs = append(tb.dialogs, fmt.Sprintf("%s: %q", ev.Type, ev.Message))
		go func() {
			// Best effort, so that a blocked page does not hang the run:
			// the dialog is already recorded and fails the test.
			_, _ = chromedp.Call(tb.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}()
	}
}

func (tb *tab) navigate(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("%s: navigate %s: %v", tb.name, url, err)
	}
}

// do runs actions with the tab's wait bound.
func (tb *tab) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %s: %v\n%s", tb.name, what, err, tb.state())
	}
}

// waitFor polls a JavaScript predicate until it is truthy.
func (tb *tab) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait+2*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(browserWait)))
	if err != nil {
		t.Fatalf("%s: waiting for %s: %v\n%s", tb.name, what, err, tb.state())
	}
}

// eval evaluates expr and decodes its value into T.
func eval[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: evaluating %s: %v", tb.name, expr, err)
	}
	return v
}

// evalAsync evaluates expr, awaits the promise it returns and decodes the value.
func evalAsync[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: evaluating: %v", tb.name, err)
	}
	return v
}

// state summarizes the page for failure messages.
func (tb *tab) state() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		status: document.querySelector('[data-testid=status]')?.innerText,
		members: document.querySelector('[data-testid=members]')?.innerText,
		feed: [...document.querySelectorAll('[data-testid=feed-entry]')].slice(0, 8).map(e => e.innerText),
		result: document.querySelector('[data-testid=get-result]')?.innerText,
		viewer: document.querySelector('[data-testid=viewer]')?.innerText.slice(0, 300),
	}, null, 1)`))
	if err != nil {
		return fmt.Sprintf("(page state unavailable: %v)", err)
	}
	return tb.name + " page: " + s
}

// artifacts writes a full screenshot and the console log of the tab.
func (tb *tab) artifacts(t *testing.T, dir, prefix string) {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		if err := os.WriteFile(filepath.Join(dir, prefix+tb.name+".png"), png, 0o644); err != nil {
			t.Log(err)
		}
	} else {
		t.Logf("%s: screenshot: %v", tb.name, err)
	}
	tb.mu.Lock()
	text := strings.Join(tb.console, "\n") + "\n"
	tb.mu.Unlock()
	if err := os.WriteFile(filepath.Join(dir, prefix+tb.name+"-console.txt"), []byte(text), 0o644); err != nil {
		t.Log(err)
	}
}

// checkClean fails on any console error or dialog seen so far.
func (tb *tab) checkClean(t *testing.T) {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, e := range tb.errs {
		t.Errorf("%s: console error: %s", tb.name, e)
	}
	for _, d := range tb.dialogs {
		t.Errorf("%s: a dialog opened (script ran?): %s", tb.name, d)
	}
}

// keepOnFailure saves the tabs' screenshots and console logs when t fails;
// call it after openTab, so that it runs before the tabs close.
func keepOnFailure(t *testing.T, tabs ...*tab) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		d := artifactsDir(t)
		for _, tb := range tabs {
			tb.artifacts(t, d, "failed-")
		}
		t.Logf("screenshots and console logs of the failed run: %s", d)
	})
}

func artifactsDir(t *testing.T) string {
	if d := os.Getenv("FILEHUB_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("FILEHUB_ARTIFACTS: %v", err)
		}
		return d
	}
	return t.TempDir()
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// cssString quotes s as a CSS string (JSON's \u003c escapes mean nothing in CSS).
func cssString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\a `).Replace(s) + `"`
}

// row is a CSS selector for the row of path in the listing.
func row(path string) string { return `tr[data-path=` + cssString(path) + `]` }

// browserFixtures writes the served folder of the browser tests.
func browserFixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	big := make([]byte, 1536<<10) // over the default inline limit (1 MiB): streamed
	rand.Read(big)
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for x := range 24 {
		for y := range 16 {
			img.Set(x, y, color.RGBA{uint8(x * 10), uint8(y * 15), 200, 255})
		}
	}
	var pic bytes.Buffer
	if err := png.Encode(&pic, img); err != nil {
		t.Fatal(err)
	}
	testutil.WriteTree(t, dir, map[string]string{
		"README.md":      "# filehub test\nsecond line\n",
		"notes.md":       "shared-notes-marker\nline two\nline three\n",
		"private.txt":    "private-content-marker-4711\n",
		"docs/a.md":      "doc-a-marker\n",
		"big.bin":        string(big),
		"pic.png":        pic.String(),
		hostile + ".txt": `<script>alert(2)</script><img src=x onerror=alert(3)>` + "\n",
	})
	return dir
}

// feedFetch is a predicate: the feed shows who opening path over via (ws, http).
func feedFetch(who, path, via string) string {
	return `[...document.querySelectorAll('[data-testid=feed-entry][data-action=fetch][data-via=` + via + `]')].some(e => e.textContent.includes(` +
		jsString(who+" opened "+path) + `))`
}

// feedHas is a predicate: some feed entry's text contains all parts.
func feedHas(parts ...string) string {
	var conds []string
	for _, p := range parts {
		conds = append(conds, `e.textContent.includes(`+jsString(p)+`)`)
	}
	return `[...document.querySelectorAll('[data-testid=feed-entry]')].some(e => ` + strings.Join(conds, " && ") + `)`
}

const statusOpen = `document.querySelector('[data-testid=status]').dataset.state === 'open'`

func memberCount(n int) string {
	return fmt.Sprintf(`document.querySelector('[data-testid=member-count]').textContent === '%d'`, n)
}

// TestBrowser runs the room page for two people (and a hostile third) in one
// Chromium against one server, scenario by scenario, then restarts the
// server on the same address.
func TestBrowser(t *testing.T) {
	parent := t
	browserCtx := startBrowser(t)
	dir := browserFixtures(t)
	ts := harness.Start(t, dir, "-upload")
	room := ts.URL + "/?room=lab"

	alice := openTab(t, browserCtx, "alice", room+"&name=alice")
	bob := openTab(t, browserCtx, "bob", room+"&name=bob")
	tabs := []*tab{alice, bob}
	keepOnFailure(t, alice, bob)
	for _, tb := range tabs {
		tb.waitFor(t, "connected", statusOpen)
		tb.waitFor(t, "two members", memberCount(2))
		tb.waitFor(t, "the listing", `document.querySelector(`+jsString(row("README.md"))+`)`)
	}

	t.Run("Listing", func(t *testing.T) {
		alice.waitFor(t, "the folder docs", `document.querySelector(`+jsString(row("docs/"))+`)`)
		alice.do(t, "open docs", chromedp.Click(chromedp.CSS(row("docs/")+` .name button`)))
		alice.waitFor(t, "docs/a.md and its breadcrumb", `document.querySelector(`+jsString(row("docs/a.md"))+`) &&
			document.querySelector('[data-testid=crumbs]').textContent.includes('docs')`)
		alice.do(t, "back to the root", chromedp.Click(chromedp.CSS(`[data-testid=crumbs] li:first-child button`)))
		alice.waitFor(t, "the root again", `document.querySelector(`+jsString(row("notes.md"))+`)`)
		if got := eval[string](t, alice, `document.querySelector(`+jsString(row("docs/a.md"))+`)?.textContent ?? ''`); got != "" {
			t.Errorf("docs/a.md still listed at the root")
		}
	})

	t.Run("Invite", func(t *testing.T) {
		alice.do(t, "open the invite", chromedp.Click(chromedp.ID("invite-btn")), chromedp.WaitVisible(chromedp.CSS(`[data-testid=qr] svg`)))
		if got, want := eval[string](t, alice, `document.querySelector('[data-testid=invite-link]').value`), ts.URL+"/?room=lab"; got != want {
			t.Errorf("invite link = %q, want %q", got, want)
		}
		if v := eval[string](t, alice, `document.querySelector('[data-testid=qr] svg').dataset.version`); v == "" {
			t.Error("no QR symbol drawn")
		}
		alice.do(t, "close the invite", chromedp.Click(chromedp.ID("invite-btn")), chromedp.WaitNotVisible(chromedp.CSS(`[data-testid=qr]`)))
	})

	t.Run("ShareCard", func(t *testing.T) {
		alice.do(t, "share notes.md", rowAction(row("notes.md"), "share")...)
		bob.waitFor(t, "alice's card with the content", `[...document.querySelectorAll('[data-testid=share-card]')].some(c =>
			c.dataset.path === 'notes.md' && c.textContent.includes('alice shared notes.md') && c.textContent.includes('shared-notes-marker'))`)
		bob.waitFor(t, "the share in the feed", feedHas("alice", "shared", "notes.md", "with the room"))
		bob.do(t, "open the card", chromedp.Click(chromedp.CSS(`[data-testid=share-card][data-path="notes.md"] [data-testid=open-share]`)))
		bob.waitFor(t, "the shared file in the viewer", `document.querySelector('[data-testid=viewer] [data-testid=content]')?.textContent.includes('line three') &&
			document.querySelector('[data-testid=line-count]')?.textContent === '3 lines'`)
	})

	t.Run("HTTPFetchInFeed", func(t *testing.T) {
		alice.do(t, "open README.md over HTTP", rowAction(row("README.md"), "open-http")...)
		alice.waitFor(t, "README.md in the viewer", `document.querySelector('[data-testid=viewer] [data-testid=content]')?.textContent.startsWith('# filehub test') &&
			document.querySelector('[data-testid=line-count]')?.textContent === '2 lines'`)
		bob.waitFor(t, "alice's HTTP fetch in the feed", feedFetch("alice", "README.md", "http"))
	})

	t.Run("PrivateView", func(t *testing.T) {
		alice.do(t, "view private.txt", rowAction(row("private.txt"), "view")...)
		alice.waitFor(t, "private.txt in the viewer", `document.querySelector('[data-testid=viewer]').textContent.includes('private-content-marker-4711')`)
		bob.waitFor(t, "the private fetch in the feed", feedFetch("alice", "private.txt", "ws"))
		if eval[bool](t, bob, `document.body.textContent.includes('private-content-marker-4711')`) {
			t.Error("bob's page shows the content alice viewed privately")
		}
	})

	t.Run("StreamVerified", func(t *testing.T) {
		alice.do(t, "view big.bin", rowAction(row("big.bin"), "view")...)
		alice.waitFor(t, "big.bin streamed and verified", `document.querySelector('[data-testid=verify]')?.dataset.state === 'ok' &&
			document.querySelector('[data-testid=viewer]').dataset.path === 'big.bin'`)
		if got := eval[string](t, alice, `document.querySelector('[data-testid=viewer] a[download]')?.getAttribute('href') ?? ''`); !strings.HasPrefix(got, "blob:") {
			t.Errorf("big.bin save link = %q, want a blob: URL", got)
		}
		bob.waitFor(t, "the stream in the feed", feedFetch("alice", "big.bin", "ws"))
	})

	t.Run("ImageFromBlob", func(t *testing.T) {
		bob.do(t, "view pic.png", rowAction(row("pic.png"), "view")...)
		// naturalWidth > 0: decoded, so the CSP let the blob: URL through.
		bob.waitFor(t, "the image decoded", `(() => { const i = document.querySelector('[data-testid=content-image]');
			return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth === 24 })()`)
	})

	t.Run("Form", func(t *testing.T) {
		submit := func(path, via, to string) {
			t.Helper()
			bob.do(t, "fill the form",
				chromedp.SetValue(chromedp.CSS(`[data-testid=get-path]`), path),
				chromedp.Click(chromedp.CSS(`[data-testid=via-`+via+`]`)),
				chromedp.Click(chromedp.CSS(`[data-testid=to-`+to+`]`)),
				chromedp.Evaluate[chromedp.Void](`delete document.querySelector('[data-testid=get-result]').dataset.code`),
				chromedp.Click(chromedp.CSS(`[data-testid=get-submit]`)),
			)
		}
		resultIs := func(code string) string {
			return `document.querySelector('[data-testid=get-result]').dataset.code === ` + jsString(code)
		}

		submit("docs/a.md", "ws", "me")
		bob.waitFor(t, "docs/a.md over WebSocket", resultIs("ok")+` &&
			document.querySelector('[data-testid=viewer]').textContent.includes('doc-a-marker')`)

		submit("/docs/a.md", "http", "room")
		bob.waitFor(t, "docs/a.md by AJAX, shared", resultIs("ok"))
		alice.waitFor(t, "bob's share of docs/a.md", `[...document.querySelectorAll('[data-testid=share-card]')].some(c =>
			c.dataset.path === 'docs/a.md' && c.textContent.includes('bob shared') && c.textContent.includes('doc-a-marker'))`)
		alice.waitFor(t, "bob's AJAX fetch in the feed", feedFetch("bob", "docs/a.md", "http"))

		for _, via := range []string{"http", "ws"} {
			submit("missing.txt", via, "me")
			bob.waitFor(t, "not_found via "+via, resultIs("not_found")+` &&
				document.querySelector('[data-testid=get-result-code]').textContent === 'not_found'`)
		}
		submit("../etc/passwd", "ws", "room")
		bob.waitFor(t, "an error for a path outside the folder", `!['ok', undefined].includes(document.querySelector('[data-testid=get-result]').dataset.code)`)
	})

	t.Run("HostileNames", func(t *testing.T) {
		mallory := openTab(t, browserCtx, "mallory", room+"&name="+strings.Repeat("x", 40))
		keepOnFailure(t, mallory) // mallory's tab ends with this subtest
		defer mallory.checkClean(t)
		// A refused join (name over 32 characters) is explained, not retried.
		mallory.waitFor(t, "the refusal", `document.querySelector('[data-testid=status]').dataset.state === 'refused' &&
			document.querySelector('#notice').textContent.includes('name must be')`)

		// No name given: the page asks with its own form (never prompt()).
		mallory.navigate(t, room)
		mallory.do(t, "answer the join form",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=join-name]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=join-name]`), hostile),
			chromedp.Click(chromedp.CSS(`[data-testid=join-submit]`)),
		)
		mallory.waitFor(t, "connected", statusOpen)
		// Joining late, mallory sees what was shared before, from the
		// room's history.
		mallory.waitFor(t, "earlier shares listed", `['notes.md', 'docs/a.md'].every((p) => document.querySelector('[data-testid=share-card][data-path="' + p + '"]')) &&
			document.querySelector('#shares-empty').hidden`)
		alice.waitFor(t, "three members", memberCount(3))
		alice.waitFor(t, "the hostile name as text", `[...document.querySelectorAll('[data-testid=members] li')].some(li => li.textContent === `+jsString(hostile)+`)`)
		if got := eval[string](t, mallory, `localStorage.getItem('filehub.name')`); got != hostile {
			t.Errorf("remembered name = %q, want %q", got, hostile)
		}

		name := hostile + ".txt"
		mallory.waitFor(t, "the hostile file listed", `[...document.querySelectorAll('[data-testid=entry] .name .nm')].some(n => n.textContent === `+jsString(name)+`)`)
		mallory.do(t, "share the hostile file", rowAction(row(name), "share")...)
		alice.waitFor(t, "the hostile card as text", `[...document.querySelectorAll('[data-testid=share-card]')].some(c =>
			c.textContent.includes(`+jsString(hostile+" shared "+name)+`) && c.textContent.includes('<script>alert(2)</script>'))`)
		alice.do(t, "view the hostile file", rowAction(row(name), "view")...)
		alice.waitFor(t, "its content as text", `document.querySelector('[data-testid=viewer] [data-testid=content]')?.textContent.includes('onerror=alert(3)')`)
		mallory.do(t, "chat markup",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=chat-input]`), `<b>bold</b><img src=x onerror=alert(4)>`),
			chromedp.Click(chromedp.CSS(`[data-testid=chat-form] button`)),
		)
		alice.waitFor(t, "the chat as text", `[...document.querySelectorAll('[data-testid=chat-message]')].some(m =>
			m.textContent.startsWith(`+jsString(hostile+": <b>bold</b><img src=x onerror=alert(4)>")+`))`)
		alice.waitFor(t, "the feed entry as text", feedHas(hostile+" shared "+name))
		for _, tb := range []*tab{alice, mallory} {
			if n := eval[int](t, tb, `document.querySelectorAll('img[src="x"], script:not([src]), b').length`); n != 0 {
				t.Errorf("%s: %d elements were built from user strings", tb.name, n)
			}
		}

		// Closing the tab leaves the room.
		mallory.do(t, "leave", chromedp.Navigate("about:blank"))
		alice.waitFor(t, "two members again", memberCount(2))
	})

	t.Run("Upload", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "up.txt")
		if err := os.WriteFile(src, []byte("uploaded-marker\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		upload := chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=upload-input]`), []string{src})
		alice.do(t, "upload up.txt", upload)
		alice.waitFor(t, "the upload done", `document.querySelector('[data-testid=upload][data-path="up.txt"]')?.dataset.state === 'ok'`)
		bob.waitFor(t, "the upload in the feed and the listing", feedHas("alice uploaded up.txt")+` &&
			document.querySelector(`+jsString(row("up.txt"))+`)`)
		// Again: the server answers 409, the page asks, and overwrites.
		alice.do(t, "upload up.txt again", upload)
		alice.waitFor(t, "the overwrite question", `document.querySelector('[data-testid=upload][data-path="up.txt"]')?.dataset.state === 'exists'`)
		alice.do(t, "overwrite", chromedp.Click(chromedp.CSS(`[data-testid=upload][data-path="up.txt"] button.danger`)))
		alice.waitFor(t, "the file replaced", `(() => { const li = document.querySelector('[data-testid=upload][data-path="up.txt"]');
			return li?.dataset.state === 'ok' && li.textContent.includes('replaced') })()`)
	})

	t.Run("UploadedScriptStaysInert", func(t *testing.T) { testUploadedScriptStaysInert(t, alice, bob) })
	t.Run("Recovery", func(t *testing.T) { testRecovery(t, browserCtx, ts) })
	t.Run("ResumedUpload", func(t *testing.T) { testResumedUpload(t, ts, alice, bob) })
	t.Run("ZipLink", func(t *testing.T) { testZipLink(t, alice, bob) })

	t.Run("ClientRules", func(t *testing.T) {
		// The page's DOM-free modules, run in the browser that runs them
		// for people: the feed's and the chat's recovery rules, members,
		// request/reply matching, streams and their hashes, the upload
		// state machine, the Blob types, the QR encoder.
		js, err := os.ReadFile(filepath.Join("..", "web", "testdata", "client_rules.js"))
		if err != nil {
			t.Fatal(err)
		}
		fails := evalAsync[[]string](t, alice, string(js))
		for _, f := range fails {
			t.Error(f)
		}
	})

	t.Run("RoomScreenshot", func(t *testing.T) {
		d := os.Getenv("FILEHUB_ARTIFACTS")
		if d == "" {
			t.Skip("FILEHUB_ARTIFACTS not set")
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		alice.waitFor(t, "two members", memberCount(2))
		// The clicks scrolled the page; the sticky header would sit mid-image.
		alice.do(t, "scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
		ctx, cancel := context.WithTimeout(alice.ctx, browserWait)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d, "room.png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("two-member room: %s", p)
	})

	t.Run("ServerRestart", func(t *testing.T) {
		countAndDupes := `(() => {
			const seqs = [...document.querySelectorAll('[data-testid=feed-entry]')].map(e => e.dataset.seq);
			return [seqs.length, seqs.length - new Set(seqs).size];
		})()`
		// Something in bob's feed, so that he rejoins with since.
		alice.do(t, "open README.md", rowAction(row("README.md"), "view")...)
		bob.waitFor(t, "alice's fetch in the feed", feedFetch("alice", "README.md", "ws"))
		before := eval[[]int](t, bob, countAndDupes)

		ts.Stop()
		for _, tb := range []*tab{alice, bob} {
			tb.waitFor(t, "the outage shown", `['reconnecting', 'connecting'].includes(document.querySelector('[data-testid=status]').dataset.state)`)
		}
		// Started on the parent test: it must outlive this subtest.
		harness.Start(parent, dir, "-upload", "-addr", ts.Addr)
		for _, tb := range []*tab{alice, bob} {
			tb.waitFor(t, "reconnected", statusOpen+` && `+memberCount(2))
		}
		alice.do(t, "open notes.md over HTTP", rowAction(row("notes.md"), "open-http")...)
		bob.waitFor(t, "the new fetch in the feed", feedFetch("alice", "notes.md", "http"))
		bob.waitFor(t, "the gap said in the feed", `document.querySelector('[data-testid=feed-gap]')?.textContent.includes('missed while you were away')`)
		after := eval[[]int](t, bob, countAndDupes)
		if after[0] != before[0]+1 || after[1] != 0 {
			t.Errorf("bob's feed: %d entries (%d duplicate seqs) before the restart, %d (%d) after one more fetch; want %d (0)",
				before[0], before[1], after[0], after[1], before[0]+1)
		}
	})

	t.Run("Rename", func(t *testing.T) {
		bob.do(t, "rename",
			chromedp.Click(chromedp.ID("rename-btn")),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=join-name]`)),
			chromedp.SetValue(chromedp.CSS(`[data-testid=join-name]`), "robert"),
			chromedp.Click(chromedp.CSS(`[data-testid=join-submit]`)),
		)
		bob.waitFor(t, "the new name shown", `document.querySelector('[data-testid=you-name]').textContent === 'robert'`)
		alice.waitFor(t, "the new name in the members", `[...document.querySelectorAll('[data-testid=members] li')].some(li => li.textContent === 'robert') &&
			![...document.querySelectorAll('[data-testid=members] li')].some(li => li.textContent === 'bob')`)
	})

	t.Run("PlainWords", func(t *testing.T) {
		// The two ways of fetching are named for people; the technical
		// names (WebSocket, AJAX) are in tooltips only.
		alice.do(t, "open notes.md over HTTP", rowAction(row("notes.md"), "open-http")...)
		alice.waitFor(t, "notes.md shown", `document.querySelector('[data-testid=viewer]').dataset.path === 'notes.md' && document.querySelector('[data-testid=viewer]').dataset.state === 'shown'`)
		for _, tb := range tabs {
			text := eval[string](t, tb, `document.body.innerText`)
			for _, jargon := range []string{"AJAX", "Transport", "WebSocket"} {
				if strings.Contains(text, jargon) {
					t.Errorf("%s: the page says %q", tb.name, jargon)
				}
			}
			if got := eval[string](t, tb, menuAttr(row("notes.md"), "open-http", "title")); !strings.Contains(got, "AJAX") {
				t.Errorf("%s: the HTTP button's tooltip %q does not name AJAX", tb.name, got)
			}
		}
	})

	t.Run("NoConsoleErrors", func(t *testing.T) {
		for _, tb := range tabs {
			tb.checkClean(t)
		}
	})
}

// testRecovery: carol's page in a room of its own, with its socket wrapped
// (web/testdata/ws_harness.js) so that the test can play the v2 contract's
// welcome fields (epoch, recovered, chat), drop her socket and make it deaf.
// The page reconnects with since and epoch; after a recovered reconnect it
// adds what it missed and nothing twice; after a lost history it says so in
// the feed and reloads its listing; it checks a socket as soon as the page
// is shown again; and count frames never make it ask who.
func testRecovery(t *testing.T, browserCtx context.Context, ts *harness.Server) {
	carol := openTab(t, browserCtx, "carol", ts.URL+"/?room=recov&name=carol",
		withScript(t, "ws_harness.js"), withSource(`__fh.welcomePatch = { epoch: 'E1' }`))
	keepOnFailure(t, carol)
	defer carol.checkClean(t)
	carol.waitFor(t, "connected", statusOpen+` && __fh.welcomes === 1 && document.querySelector(`+jsString(row("notes.md"))+`)`)
	if got := eval[string](t, carol, `__fh.urls[0]`); strings.Contains(got, "since=") || strings.Contains(got, "epoch=") {
		t.Errorf("first join %s: want neither since nor epoch", got)
	}

	carol.do(t, "open notes.md", rowAction(row("notes.md"), "view")...)
	carol.waitFor(t, "the fetch in the feed", feedFetch("carol", "notes.md", "ws"))
	carol.do(t, "say hello-1",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=chat-input]`), "hello-1"),
		chromedp.Click(chromedp.CSS(`[data-testid=chat-send]`)))
	carol.waitFor(t, "hello-1 heard back", `__fh.chats.length === 1`)
	chatCount := func(text string) string {
		return `[...document.querySelectorAll('[data-testid=chat-message]')].filter((m) => m.textContent.includes(` + jsString(text) + `)).length`
	}
	// since is the newest seq of the room the page saw: the chat line's,
	// which came after the fetch (one sequence for feed and chat).
	lastSeq := eval[int](t, carol, `Math.max(...[...document.querySelectorAll('[data-testid=feed-entry]')].map((e) => Number(e.dataset.seq)), ...__fh.chats.map((c) => Number(c.seq) || 0))`)
	reconnect := func(what, patch string, n int) {
		t.Helper()
		carol.do(t, what, chromedp.Evaluate[chromedp.Void](`__fh.welcomePatch = `+patch+`; __fh.listsBefore = __fh.kinds('list').length; __fh.current().close()`))
		// Retry now rather than after the backoff, which grows with each drop.
		carol.do(t, what+": retry now", chromedp.Click(chromedp.CSS(`#retry-btn`), chromedp.NodeVisible))
		carol.waitFor(t, what+": rejoined", statusOpen+fmt.Sprintf(` && __fh.welcomes === %d`, n))
	}

	// A short drop the server recovers from: nothing missed, nothing twice.
	// The listing is fetched again, once: fs frames are not part of the
	// room's history, so what changed in the folder meanwhile is not in the
	// welcome (the page draws the difference, keeping its place).
	reconnect("a recovered reconnect", `{ epoch: 'E1', recovered: true, chat: __fh.chats.slice() }`, 2)
	if got, want := eval[string](t, carol, `__fh.urls[1]`), fmt.Sprintf("since=%d&epoch=E1", lastSeq); !strings.Contains(got, want) {
		t.Errorf("reconnect URL %s: want %s", got, want)
	}
	if n := eval[int](t, carol, `document.querySelectorAll('[data-testid=feed-gap]').length`); n != 0 {
		t.Errorf("a recovered reconnect shows %d gap notes, want 0", n)
	}
	if n := eval[int](t, carol, chatCount("hello-1")); n != 1 {
		t.Errorf("after a recovered reconnect hello-1 shows %d times, want 1", n)
	}
	carol.waitFor(t, "the folder listed again, once", `__fh.kinds('list').length - __fh.listsBefore === 1`)

	// The history was lost (another epoch): said in the feed, the listing
	// reloaded, the chat the server still holds added once.
	missed := `{ kind: 'chat', from: { id: 'd1', name: 'dave' }, text: 'missed-while-away', at: new Date().toISOString() }`
	reconnect("a reconnect to a restarted server", `{ epoch: 'E2', recovered: false, chat: [...__fh.chats, `+missed+`] }`, 3)
	if got, want := eval[string](t, carol, `__fh.urls[2]`), fmt.Sprintf("since=%d&epoch=E1", lastSeq); !strings.Contains(got, want) {
		t.Errorf("reconnect URL %s: want %s", got, want)
	}
	carol.waitFor(t, "the gap said, the listing reloaded", `document.querySelectorAll('[data-testid=feed-gap]').length === 1 &&
		document.querySelector('[data-testid=feed-gap]').textContent.includes('missed') && __fh.kinds('list').length > __fh.listsBefore`)
	if got := eval[[]int](t, carol, `[`+chatCount("hello-1")+`, `+chatCount("missed-while-away")+`]`); got[0] != 1 || got[1] != 1 {
		t.Errorf("chat after a lost history: hello-1 %d times, missed-while-away %d times; want 1 and 1", got[0], got[1])
	}
	carol.do(t, "open README.md", rowAction(row("README.md"), "view")...)
	carol.waitFor(t, "the fetch in the feed", feedFetch("carol", "README.md", "ws"))
	reconnect("a reconnect in the new epoch", `{ epoch: 'E2', recovered: true, chat: [] }`, 4)
	if got := eval[string](t, carol, `__fh.urls[3]`); !strings.Contains(got, "&epoch=E2") {
		t.Errorf("reconnect URL %s: want the epoch E2 of the welcome its seq came from", got)
	}
	if n := eval[int](t, carol, `document.querySelectorAll('[data-testid=feed-gap]').length`); n != 1 {
		t.Errorf("%d gap notes, want still 1", n)
	}

	// A crowded room: count frames change the count and nothing else is
	// asked; who (with a limit) only when carol opens the member list.
	carol.do(t, "a crowded room", chromedp.Evaluate[chromedp.Void](`__fh.countAt = performance.now();
		__fh.inject({ kind: 'count', count: 5000, joined: 4999, left: 0 })`))
	carol.waitFor(t, "the count and the members it cannot name", memberCount(5000)+` &&
		document.querySelector('[data-testid=members-more]').textContent === 'and 4999 more' &&
		!document.querySelector('[data-testid=members-open]').hidden`)
	carol.do(t, "open the member list", chromedp.Click(chromedp.CSS(`[data-testid=members-open]`)))
	carol.waitFor(t, "the list from who", memberCount(1)+` && __fh.kinds('who').length === 1 && __fh.kinds('who')[0].limit === 200`)

	// Shown again (a phone woken, a tab brought back): a ping at once, and a
	// link that does not answer is replaced within seconds, not left showing
	// "connected" until the next regular ping times out.
	carol.do(t, "show the page again", chromedp.Evaluate[chromedp.Void](`__fh.pingsBefore = __fh.kinds('ping').length; document.dispatchEvent(new Event('visibilitychange'))`))
	carol.waitFor(t, "a ping at once, and its pong", `__fh.kinds('ping').length > __fh.pingsBefore && `+statusOpen+` &&
		document.querySelector('[data-testid=status]').dataset.checking === 'false'`)
	carol.do(t, "a dead link, then shown again", chromedp.Evaluate[chromedp.Void](`__fh.deaf = __fh.current(); document.dispatchEvent(new Event('visibilitychange'))`))
	carol.waitFor(t, "a fresh socket", `__fh.sockets.length === 5 && `+statusOpen+` && __fh.welcomes === 5`)

	// The old page asked who 2 s after a count frame: give it that long
	// (a bound on a clock, not a synchronisation), then count.
	carol.waitFor(t, "2.5 s after the count frames", `performance.now() - __fh.countAt > 2500`)
	if n := eval[int](t, carol, `__fh.kinds('who').length`); n != 1 {
		t.Errorf("the page sent %d who requests, want 1 (for the person opening the list)", n)
	}
}

// phoneViewport is a phone's screen: 390×844 CSS pixels, portrait, touch.
var phoneViewport = chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))

// noOverflow is a predicate: nothing makes the page scroll sideways.
const noOverflow = `document.documentElement.scrollWidth <= window.innerWidth`

// smallTargets lists the visible controls a finger cannot hit reliably:
// smaller than 40×40 CSS pixels. Links inside running text are exempt, as
// in WCAG 2.5.8.
const smallTargets = `[...document.querySelectorAll('button, a.button, input:not([type=radio]):not([type=file]), textarea, select, label:has(> input[type=radio])')]
	.filter((e) => !e.closest('.sr') && e.getClientRects().length > 0)
	.map((e) => [e, e.getBoundingClientRect()])
	.filter(([, r]) => r.width > 0 && (r.width < 40 || r.height < 40))
	.map(([e, r]) => (e.dataset.testid || e.id || e.textContent.trim().slice(0, 20)) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))`

// inView is a predicate: the element of the selector is on screen, all of it.
func inView(sel string) string {
	return `(() => { const e = document.querySelector(` + jsString(sel) + `); if (!e || e.getClientRects().length === 0) return false;
		const r = e.getBoundingClientRect();
		return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight + 1 && r.right <= window.innerWidth + 1 && r.height > 0 })()`
}

// TestBrowserLayout runs the page at a desktop's size (1280×900) and a
// phone's (390×844, touch) in one room: on the phone each section is one tap
// away, what Open opens covers the screen, nothing scrolls sideways and the
// controls are big enough for a finger; on the desktop what Open opens is
// scrolled into view. With FILEHUB_SCREENSHOTS=1 it writes
// docs/screenshot-desktop.png and docs/screenshot-phone.png.
func TestBrowserLayout(t *testing.T) {
	browserCtx := startBrowser(t)
	dir := browserFixtures(t)
	// A folder as people have them (it is in the screenshots), with a
	// listing taller than a screen.
	if err := os.Remove(filepath.Join(dir, hostile+".txt")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"agenda.md", "budget.csv", "contract-draft.txt", "directions.txt", "guest-list.csv", "itinerary.md",
		"packing-list.md", "recipes.md", "schedule.txt", "tickets.txt", "todo.md", "train-times.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts := harness.Start(t, dir, "-upload")
	room := ts.URL + "/?room=layout"
	desk := openTab(t, browserCtx, "desk", room+"&name=dana", chromedp.EmulateViewport(1280, 900))
	phone := openTab(t, browserCtx, "phone", room+"&name=pat", phoneViewport)
	keepOnFailure(t, desk, phone)
	for _, tb := range []*tab{desk, phone} {
		tb.waitFor(t, "connected", statusOpen+` && `+memberCount(2)+` && document.querySelector(`+jsString(row("notes.md"))+`)`)
	}

	t.Run("ServerInfo", func(t *testing.T) {
		// GET /_/info names the served folder and the server's network
		// addresses (when it listens on all interfaces). Played here by the
		// browser: the phone's page then names the root after the folder and
		// invites with a network address a phone can open, not 127.0.0.1.
		info := []byte(`{"folder":"trip","urls":["http://192.168.1.5:8080/","http://[fd00::5]:8080/"]}`)
		ctx, cancel := context.WithCancel(phone.ctx)
		defer cancel()
		if err := chromedp.Listen(ctx, func(ev any) {
			if e, ok := ev.(*fetch.EventRequestPaused); ok {
				go func() {
					_, _ = chromedp.Call(phone.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
						RequestID: e.RequestID, ResponseCode: 200, Body: info,
						ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}},
					})
				}()
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(phone.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/_/info"}}}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(phone.ctx, fetch.Disable, cdp.Empty{})
		phone.navigate(t, room+"&name=pat")
		phone.waitFor(t, "the root named after the folder", statusOpen+` && document.querySelector('[data-testid=crumbs] li:first-child button')?.textContent === 'trip'`)
		phone.waitFor(t, "the invite on a network address", `document.querySelector('[data-testid=invite-link]').value === 'http://192.168.1.5:8080/?room=layout' &&
			[...document.querySelectorAll('[data-testid=invite-addr] option')].length === 2`)
		// The desk's page asked the real /_/info: the served folder's name.
		if got := eval[string](t, desk, `document.querySelector('[data-testid=crumbs] li:first-child button').textContent`); got != filepath.Base(dir) {
			t.Errorf("root from /_/info = %q, want %q", got, filepath.Base(dir))
		}
	})

	t.Run("PhoneSections", func(t *testing.T) {
		for _, sec := range []struct{ tab, shows string }{
			{"files", `#files-title`},
			{"shared", `#shares-title`},
			{"room", `#members-title`},
			{"chat", `[data-testid=chat-input]`},
		} {
			phone.do(t, "tap "+sec.tab, chromedp.Tap(chromedp.CSS(`[data-testid=tab-`+sec.tab+`]`)))
			phone.waitFor(t, sec.tab+" shown, in one tap", `document.querySelector('#layout').dataset.tab === `+jsString(sec.tab)+` && `+inView(sec.shows))
			if !eval[bool](t, phone, noOverflow) {
				t.Errorf("%s: the page scrolls sideways (scrollWidth %d > %d)", sec.tab,
					eval[int](t, phone, `document.documentElement.scrollWidth`), eval[int](t, phone, `window.innerWidth`))
			}
			if small := eval[[]string](t, phone, smallTargets); len(small) > 0 {
				t.Errorf("%s: controls smaller than 40×40: %q", sec.tab, small)
			}
		}
		// The chat, one tap from the files: type, send, seen on the desktop.
		phone.do(t, "back to the files", chromedp.Tap(chromedp.CSS(`[data-testid=tab-files]`)))
		phone.do(t, "to the chat and say hi",
			chromedp.Tap(chromedp.CSS(`[data-testid=tab-chat]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=chat-input]`), "hi from a phone"),
			chromedp.Tap(chromedp.CSS(`[data-testid=chat-send]`)))
		desk.waitFor(t, "the phone's message", `[...document.querySelectorAll('[data-testid=chat-message]')].some((m) => m.textContent.startsWith('pat: hi from a phone'))`)
		// What arrives in a hidden section is counted on its tab.
		phone.do(t, "to the files", chromedp.Tap(chromedp.CSS(`[data-testid=tab-files]`)))
		desk.do(t, "answer",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=chat-input]`), "hi pat"),
			chromedp.Click(chromedp.CSS(`[data-testid=chat-send]`)))
		phone.waitFor(t, "a badge on Chat", `document.querySelector('[data-testid=tab-chat] .badge')?.textContent === '1' && !document.querySelector('[data-testid=tab-chat] .badge').hidden`)
		phone.do(t, "read it", chromedp.Tap(chromedp.CSS(`[data-testid=tab-chat]`)))
		phone.waitFor(t, "the badge gone", `document.querySelector('[data-testid=tab-chat] .badge').hidden`)
		phone.do(t, "to the files", chromedp.Tap(chromedp.CSS(`[data-testid=tab-files]`)))
	})

	t.Run("PhoneViewer", func(t *testing.T) {
		phone.do(t, "scroll to the file", chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(row("notes.md"))+`).scrollIntoView()`))
		phone.do(t, "open notes.md", chromedp.Tap(chromedp.CSS(row("notes.md")+` [data-testid=open]`)))
		phone.waitFor(t, "notes.md on screen", `document.querySelector('[data-testid=viewer]').dataset.state === 'shown' && `+
			inView(`[data-testid=viewer] [data-testid=content]`)+` && `+inView(`[data-testid=viewer-close]`)+` && `+
			`document.querySelector('[data-testid=viewer] [data-testid=content]').textContent.includes('shared-notes-marker')`)
		if !eval[bool](t, phone, noOverflow) {
			t.Error("the open viewer scrolls sideways")
		}
		if small := eval[[]string](t, phone, smallTargets); len(small) > 0 {
			t.Errorf("viewer: controls smaller than 40×40: %q", small)
		}
		phone.do(t, "close it", chromedp.Tap(chromedp.CSS(`[data-testid=viewer-close]`)))
		phone.waitFor(t, "the files again", `!document.querySelector('[data-testid=viewer-panel]').hasAttribute('data-open') && `+inView(row("notes.md")+` [data-testid=open]`))
		// The back button closes it too, as on any phone app.
		phone.do(t, "open big.bin over the live connection", rowTap(row("big.bin"), "view")...)
		phone.waitFor(t, "big.bin verified, to save", `document.querySelector('[data-testid=verify]')?.dataset.state === 'ok' && `+inView(`[data-testid=viewer] [data-testid=save]`))
		phone.do(t, "back", chromedp.Evaluate[chromedp.Void](`history.back()`))
		phone.waitFor(t, "closed by back", `!document.querySelector('[data-testid=viewer-panel]').hasAttribute('data-open')`)
	})

	t.Run("DesktopViewer", func(t *testing.T) {
		if !eval[bool](t, desk, noOverflow) {
			t.Error("the desktop page scrolls sideways")
		}
		// From far down the listing, the viewer comes into view: clicked
		// from script, so that nothing else scrolls the page.
		viewerInView := func(path string) string {
			return `(() => { const r = document.querySelector('[data-testid=viewer-panel]').getBoundingClientRect();
				return document.querySelector('[data-testid=viewer]').dataset.path === ` + jsString(path) + ` &&
					document.querySelector('[data-testid=viewer]').dataset.state === 'shown' && r.top >= 0 && r.top < window.innerHeight - 100 })()`
		}
		for _, path := range []string{"private.txt", "README.md"} { // the second with the viewer open already
			desk.do(t, "scroll down", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.documentElement.scrollHeight)`))
			if top := eval[float64](t, desk, `document.querySelector('[data-testid=viewer-panel]').getBoundingClientRect().top`); top >= 0 {
				t.Fatalf("the viewer's top is at %.0f px before opening: the page is not tall enough for this test", top)
			}
			desk.do(t, "open "+path, chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(row(path)+` [data-testid=open]`)+`).click()`))
			desk.waitFor(t, path+" in view", viewerInView(path))
		}
	})

	t.Run("Screenshots", func(t *testing.T) {
		if os.Getenv("FILEHUB_SCREENSHOTS") == "" {
			t.Skip("FILEHUB_SCREENSHOTS not set")
		}
		phone.do(t, "share notes.md", rowTap(row("notes.md"), "share")...)
		desk.waitFor(t, "the share", `document.querySelector('[data-testid=share-card][data-path="notes.md"]')`)
		desk.do(t, "open README.md", chromedp.Click(chromedp.CSS(row("README.md")+` [data-testid=open]`)))
		desk.waitFor(t, "README.md shown", `document.querySelector('[data-testid=viewer]').dataset.path === 'README.md' && document.querySelector('[data-testid=viewer]').dataset.state === 'shown'`)
		// No highlight of fresh entries, no caret: the same picture each run.
		for _, tb := range []*tab{desk, phone} {
			tb.do(t, "settle", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.fresh').forEach((e) => e.classList.remove('fresh'));
				document.activeElement?.blur(); window.scrollTo(0, 0)`))
		}
		docs := filepath.Join("..", "docs") // the repository's, from e2e/
		if err := os.MkdirAll(docs, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, tb := range map[string]*tab{"desktop": desk, "phone": phone} {
			ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(docs, "screenshot-"+name+".png")
			if err := os.WriteFile(p, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", p)
		}
	})

	t.Run("NoConsoleErrors", func(t *testing.T) {
		desk.checkClean(t)
		phone.checkClean(t)
	})
}
