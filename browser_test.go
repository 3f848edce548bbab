package main

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
func openTab(t *testing.T, browserCtx context.Context, name, url string) *tab {
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
	tb.navigate(t, url)
	return tb
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

// clientRulesJS checks feed.js and qr.js and resolves to a list of failures.
// The QR goldens are the SHA-256 of the module matrix ("0"/"1" rows joined
// by newlines) of symbols that zbarimg decoded back to the input.
const clientRulesJS = `(async () => {
	const { FeedState } = await import('/_/static/feed.js');
	const { encode } = await import('/_/static/qr.js');
	const fails = [];
	const eq = (name, got, want) => {
		if (JSON.stringify(got) !== JSON.stringify(want)) fails.push(name + ': got ' + JSON.stringify(got) + ', want ' + JSON.stringify(want));
	};
	const ev = (seq, path, at = 'T1') => ({ seq, at, who: 'a', action: 'fetch', path, via: 'ws', bytes: 1 });
	const seqs = (l) => l.map((e) => e.seq);

	let f = new FeedState(200);
	eq('first welcome takes all', seqs(f.welcome([ev(1, 'a'), ev(2, 'b')])), [1, 2]);
	eq('a live event', f.live(ev(3, 'c'))?.seq, 3);
	eq('the same live event again', f.live(ev(3, 'c')), null);
	eq('a reconnect resending held events', seqs(f.welcome([ev(2, 'b'), ev(3, 'c'), ev(4, 'd')])), [4]);
	eq('since after it', f.lastSeq, 4);
	eq('a restarted server (newest seq lower)', seqs(f.welcome([ev(1, 'x', 'T2')])), [1]);
	eq('since in the new epoch', f.lastSeq, 1);
	eq('live in the new epoch', f.live(ev(2, 'y', 'T2'))?.seq, 2);

	f = new FeedState(2); // seqs 1 and 2 no longer held: only the newest seq tells
	f.welcome([1, 2, 3, 4].map((i) => ev(i, 'p' + i)));
	eq('a restarted server (events not held)', seqs(f.welcome([ev(1, 'x', 'T2'), ev(2, 'y', 'T2')])), [1, 2]);

	f = new FeedState(200);
	f.welcome([ev(5, 'a'), ev(6, 'b')]);
	eq('an empty welcome', seqs(f.welcome([])), []);
	eq('a restart seen at the first live event', f.live(ev(1, 'z', 'T3'))?.seq, 1);

	f = new FeedState(200);
	f.welcome([ev(1, 'a'), ev(2, 'b')]);
	eq('a restart seen by content', seqs(f.welcome([ev(1, 'q', 'T9'), ev(2, 'r', 'T9'), ev(3, 's', 'T9')])), [1, 2, 3]);

	f = new FeedState(200);
	f.welcome([ev(10, 'a')]);
	eq('since honored: only newer events', seqs(f.welcome([ev(11, 'b'), ev(12, 'c')])), [11, 12]);
	eq('overlap of welcome and live', f.live(ev(12, 'c')), null);

	f = new FeedState(3);
	f.welcome([1, 2, 3, 4, 5].map((i) => ev(i, 'p' + i)));
	eq('held events are bounded', f.held.size, 3);

	const hex = async (s) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)))]
		.map((b) => b.toString(16).padStart(2, '0')).join('');
	for (const [text, version, mask, sum] of [
		['http://127.0.0.1:8080/?room=lobby', 3, 0, 'f0bc45d3925ce654980a326e8865b8e7af9c4167dac844b52c726da3100b7c95'],
		['https://filehub.example:8443/?room=' + 'x'.repeat(150), 10, 2, '6db67e05378862b51c4a30128e8b01b4cdcc92ccd813996da9d3193e97b806be'],
	]) {
		const q = encode(text);
		eq('qr version of ' + text.length + ' bytes', [q.version, q.level, q.mask], [version, 'M', mask]);
		eq('qr modules of ' + text.length + ' bytes', await hex(q.modules.map((r) => r.map((b) => (b ? '1' : '0')).join('')).join('\n')), sum);
	}
	eq('qr falls back to level L', encode('q'.repeat(2500)).level, 'L');
	return fails;
})()`

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
	for name, content := range map[string][]byte{
		"README.md":      []byte("# filehub test\nsecond line\n"),
		"notes.md":       []byte("shared-notes-marker\nline two\nline three\n"),
		"private.txt":    []byte("private-content-marker-4711\n"),
		"docs/a.md":      []byte("doc-a-marker\n"),
		"big.bin":        big,
		"pic.png":        pic.Bytes(),
		hostile + ".txt": []byte(`<script>alert(2)</script><img src=x onerror=alert(3)>` + "\n"),
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
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
	ts := startServer(t, dir, "-upload")
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
		alice.do(t, "share notes.md", chromedp.Click(chromedp.CSS(row("notes.md")+` [data-testid=share]`)))
		bob.waitFor(t, "alice's card with the content", `[...document.querySelectorAll('[data-testid=share-card]')].some(c =>
			c.dataset.path === 'notes.md' && c.textContent.includes('alice shared notes.md') && c.textContent.includes('shared-notes-marker'))`)
		bob.waitFor(t, "the share in the feed", feedHas("alice", "shared", "notes.md", "with the room"))
		bob.do(t, "open the card", chromedp.Click(chromedp.CSS(`[data-testid=share-card][data-path="notes.md"] [data-testid=open-share]`)))
		bob.waitFor(t, "the shared file in the viewer", `document.querySelector('[data-testid=viewer] [data-testid=content]')?.textContent.includes('line three') &&
			document.querySelector('[data-testid=line-count]')?.textContent === '3 lines'`)
	})

	t.Run("AjaxFetchInFeed", func(t *testing.T) {
		alice.do(t, "fetch README.md by AJAX", chromedp.Click(chromedp.CSS(row("README.md")+` [data-testid=ajax]`)))
		alice.waitFor(t, "README.md in the viewer", `document.querySelector('[data-testid=viewer] [data-testid=content]')?.textContent.startsWith('# filehub test') &&
			document.querySelector('[data-testid=line-count]')?.textContent === '2 lines'`)
		bob.waitFor(t, "alice's HTTP fetch in the feed", feedHas("alice fetched README.md via http"))
	})

	t.Run("PrivateView", func(t *testing.T) {
		alice.do(t, "view private.txt", chromedp.Click(chromedp.CSS(row("private.txt")+` [data-testid=view]`)))
		alice.waitFor(t, "private.txt in the viewer", `document.querySelector('[data-testid=viewer]').textContent.includes('private-content-marker-4711')`)
		bob.waitFor(t, "the private fetch in the feed", feedHas("alice fetched private.txt via ws"))
		if eval[bool](t, bob, `document.body.textContent.includes('private-content-marker-4711')`) {
			t.Error("bob's page shows the content alice viewed privately")
		}
	})

	t.Run("StreamVerified", func(t *testing.T) {
		alice.do(t, "view big.bin", chromedp.Click(chromedp.CSS(row("big.bin")+` [data-testid=view]`)))
		alice.waitFor(t, "big.bin streamed and verified", `document.querySelector('[data-testid=verify]')?.dataset.state === 'ok' &&
			document.querySelector('[data-testid=viewer]').dataset.path === 'big.bin'`)
		if got := eval[string](t, alice, `document.querySelector('[data-testid=viewer] a[download]')?.getAttribute('href') ?? ''`); !strings.HasPrefix(got, "blob:") {
			t.Errorf("big.bin save link = %q, want a blob: URL", got)
		}
		bob.waitFor(t, "the stream in the feed", feedHas("alice fetched big.bin via ws"))
	})

	t.Run("ImageFromBlob", func(t *testing.T) {
		bob.do(t, "view pic.png", chromedp.Click(chromedp.CSS(row("pic.png")+` [data-testid=view]`)))
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
		alice.waitFor(t, "bob's AJAX fetch in the feed", feedHas("bob fetched docs/a.md via http"))

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
		alice.waitFor(t, "three members", memberCount(3))
		alice.waitFor(t, "the hostile name as text", `[...document.querySelectorAll('[data-testid=members] li')].some(li => li.textContent === `+jsString(hostile)+`)`)
		if got := eval[string](t, mallory, `localStorage.getItem('filehub.name')`); got != hostile {
			t.Errorf("remembered name = %q, want %q", got, hostile)
		}

		name := hostile + ".txt"
		mallory.waitFor(t, "the hostile file listed", `[...document.querySelectorAll('[data-testid=entry] .name button')].some(n => n.textContent === `+jsString(name)+`)`)
		mallory.do(t, "share the hostile file", chromedp.Click(chromedp.CSS(row(name)+` [data-testid=share]`)))
		alice.waitFor(t, "the hostile card as text", `[...document.querySelectorAll('[data-testid=share-card]')].some(c =>
			c.textContent.includes(`+jsString(hostile+" shared "+name)+`) && c.textContent.includes('<script>alert(2)</script>'))`)
		alice.do(t, "view the hostile file", chromedp.Click(chromedp.CSS(row(name)+` [data-testid=view]`)))
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

	t.Run("ResumedUpload", func(t *testing.T) { testResumedUpload(t, ts, alice, bob) })
	t.Run("ZipLink", func(t *testing.T) { testZipLink(t, alice, bob) })

	t.Run("ClientRules", func(t *testing.T) {
		// The page's pure modules, run in the browser that runs them for
		// people: the feed's dedupe/epoch rules and the QR encoder.
		fails := evalAsync[[]string](t, alice, clientRulesJS)
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
		before := eval[[]int](t, bob, countAndDupes)

		ts.Stop()
		for _, tb := range []*tab{alice, bob} {
			tb.waitFor(t, "the outage shown", `['reconnecting', 'connecting'].includes(document.querySelector('[data-testid=status]').dataset.state)`)
		}
		// Started on the parent test: it must outlive this subtest.
		startServer(parent, dir, "-upload", "-addr", ts.Addr)
		for _, tb := range []*tab{alice, bob} {
			tb.waitFor(t, "reconnected", statusOpen+` && `+memberCount(2))
		}
		alice.do(t, "fetch notes.md by AJAX", chromedp.Click(chromedp.CSS(row("notes.md")+` [data-testid=ajax]`)))
		bob.waitFor(t, "the new fetch in the feed", feedHas("alice fetched notes.md via http"))
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

	t.Run("NoConsoleErrors", func(t *testing.T) {
		for _, tb := range tabs {
			tb.checkClean(t)
		}
	})
}
