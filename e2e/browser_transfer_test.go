package e2e

// Browser scenarios of large transfers, run as subtests of TestBrowser (in
// browser_test.go, which owns the browser, the server and the tabs): an
// upload whose connection drops halfway resumes where the server stopped,
// and folders download as zip files.

import (
	"bytes"
	"context"
	"filehub/internal/harness"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// paused is a request of the page held by the Fetch domain.
type paused struct {
	id          fetch.RequestID
	method, url string
	headers     network.Headers
}

func (p paused) header(name string) string {
	for k, v := range p.headers {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// testResumedUpload: the page's upload loses its connection after half of
// the file reached the server. The test plays the network: it holds the
// page's PUT, sends half the file under the page's upload key over a
// connection it drops, and fails the page's request as a reset would. The
// page must then ask for the offset, say it is resuming, and send the rest.
func testResumedUpload(t *testing.T, ts *harness.Server, alice, bob *tab) {
	const size = 3 << 20
	body, _ := seeded(size, 5)
	src := filepath.Join(t.TempDir(), "resume.bin")
	if err := os.WriteFile(src, body, 0o644); err != nil {
		t.Fatal(err)
	}
	reqs := make(chan paused, 16)
	ctx, cancel := context.WithCancel(alice.ctx)
	defer cancel()
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case reqs <- paused{e.RequestID, e.Request.Method, e.Request.URL, e.Request.Headers}:
			default: // cannot fill up: the test answers each before the next comes
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	call := func(what string, f func(ctx context.Context) error) {
		t.Helper()
		cctx, ccancel := context.WithTimeout(alice.ctx, browserWait)
		defer ccancel()
		if err := f(cctx); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	call("intercept uploads", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*resume=*"}}})
		return err
	})
	defer call("stop intercepting", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, fetch.Disable, cdp.Empty{})
		return err
	})
	next := func() paused {
		t.Helper()
		select {
		case p := <-reqs:
			return p
		case <-time.After(browserWait):
			t.Fatalf("the page sent no request\n%s", alice.state())
		}
		return paused{}
	}
	let := func(p paused) {
		t.Helper()
		call("continue "+p.method, func(ctx context.Context) error {
			_, err := chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: p.id})
			return err
		})
	}
	// Record the states the upload's row goes through.
	alice.do(t, "watch the upload rows", chromedp.Evaluate[chromedp.Void](`(() => {
		window.uploadStates = [];
		new MutationObserver((ms) => { for (const m of ms) if (m.target.dataset?.path === 'resume.bin') window.uploadStates.push(m.target.dataset.state); })
			.observe(document.querySelector('[data-testid=uploads]'), { subtree: true, attributes: true, attributeFilter: ['data-state'] });
	})()`))
	alice.do(t, "upload resume.bin", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=upload-input]`), []string{src}))

	first := next()
	u, err := url.Parse(first.url)
	if err != nil || first.method != http.MethodPut || first.header("Content-Range") != "" {
		t.Fatalf("first request %s %s (Content-Range %q)", first.method, first.url, first.header("Content-Range"))
	}
	key := u.Query().Get("resume")
	cutUpload(t, ts, "/resume.bin?resume="+key, body[:size/2], size)
	deadline := time.Now().Add(browserWait)
	for heldBytes(t, ts, "/resume.bin?resume="+key) != size/2 { // the server ends the cut request on its own time
		if time.Now().After(deadline) {
			t.Fatalf("the server does not hold the first half")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded by deadline
	}
	call("drop the page's request", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: first.id, ErrorReason: network.ErrorReasonConnectionReset})
		return err
	})
	for {
		p := next()
		let(p)
		if p.method == http.MethodPut {
			if got, want := p.header("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", size/2, size-1, size); got != want {
				t.Fatalf("resumed with Content-Range %q, want %q", got, want)
			}
			break
		}
		if p.method != http.MethodHead {
			t.Fatalf("unexpected %s %s", p.method, p.url)
		}
	}
	alice.waitFor(t, "the upload done", `document.querySelector('[data-testid=upload][data-path="resume.bin"]')?.dataset.state === 'ok'`)
	if states := eval[[]string](t, alice, `window.uploadStates`); !strings.Contains(strings.Join(states, " "), "resuming") {
		t.Errorf("the row never said it was resuming: %q", states)
	}
	got, err := os.ReadFile(filepath.Join(ts.Dir, "resume.bin"))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("resume.bin on the server differs from the original (%d bytes, %v)", len(got), err)
	}
	bob.waitFor(t, "the upload in the feed", feedHas("alice uploaded resume.bin"))
}

// heldBytes asks the server how many bytes it holds for a resumable upload.
func heldBytes(t *testing.T, ts *harness.Server, target string) int {
	t.Helper()
	resp, err := http.Head(ts.URL + target)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var n int
	fmt.Sscan(resp.Header.Get("Upload-Offset"), &n)
	return n
}

// testZipLink: the listing offers folders as zip files, and a zip download
// shows in the room's feed.
func testZipLink(t *testing.T, alice, bob *tab) {
	zipHref := `document.querySelector('[data-testid=zip-link]').getAttribute('href')`
	if got := eval[string](t, alice, zipHref); got != "/?zip" {
		t.Errorf("zip link at the root = %q, want /?zip", got)
	}
	if got := eval[string](t, alice, menuAttr(row("docs/"), "zip", "href")); got != "/docs/?zip" {
		t.Errorf("zip link of docs/ = %q", got)
	}
	alice.do(t, "open docs", chromedp.Click(chromedp.CSS(row("docs/")+` .name button`)))
	alice.waitFor(t, "the zip link of docs", zipHref+` === '/docs/?zip'`)
	// What a click on the link fetches, without a download dialog.
	if got := evalAsync[string](t, alice, `fetch(document.querySelector('[data-testid=zip-link]').href)
		.then(async (r) => r.status + ' ' + r.headers.get('Content-Type') + ' ' + (await r.arrayBuffer()).byteLength)`); !strings.HasPrefix(got, "200 application/zip ") {
		t.Errorf("the zip link answers %q", got)
	}
	bob.waitFor(t, "the zip in the feed", feedHas("alice downloaded docs/ as a zip"))
	alice.do(t, "back to the root", chromedp.Click(chromedp.CSS(`[data-testid=crumbs] li:first-child button`)))
	alice.waitFor(t, "the root again", zipHref+` === '/?zip'`)
}

// Uploads whose bytes are active content when a browser renders them as a
// document in the room's origin: script in an HTML page, and script and an
// onload handler in an SVG image. Each one writes to localStorage, which a
// document of the page's origin shares with the page, and sets its title.
const (
	evilHTML = `<!doctype html><title>evil</title><script>
document.title = 'pwned-html';
localStorage.setItem('pwned-html', location.href);
fetch('/private.txt').then((r) => r.text()).then((t) => localStorage.setItem('pwned-html-fetch', t));
</script><p>evil-html-marker</p>
`
	evilSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" onload="document.title='pwned-svg-onload';localStorage.setItem('pwned-svg-onload',location.href)">` +
		`<script>document.title='pwned-svg';localStorage.setItem('pwned-svg',location.href)</script>` +
		`<rect width="20" height="20" fill="red"/></svg>
`
)

// testUploadedScriptStaysInert: alice uploads an HTML page and an SVG image
// that carry script; bob views each in every way the page offers (over the
// WebSocket, over HTTP, from a share card). After each view, every blob: URL
// on bob's page is opened in a new tab of bob's browser context, as a person
// would with "open link in new tab". No script of the uploads may run there:
// a blob: URL has the page's origin, so such a script could read the room's
// files with bob's cookie.
func testUploadedScriptStaysInert(t *testing.T, alice, bob *tab) {
	dir := t.TempDir()
	var srcs []string
	for name, body := range map[string]string{"evil.html": evilHTML, "evil.svg": evilSVG} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, p)
	}
	alice.do(t, "upload evil.html and evil.svg", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=upload-input]`), srcs))
	for _, name := range []string{"evil.html", "evil.svg"} {
		bob.waitFor(t, name+" listed", `document.querySelector(`+jsString(row(name))+`)`)
	}
	if _, err := chromedp.CallBrowser(bob.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:         browser.SetDownloadBehaviorBehaviorDeny,
		BrowserContextID: chromedp.FromContext(bob.ctx).BrowserContextID,
	}); err != nil {
		t.Fatalf("deny downloads: %v", err)
	}

	// One more tab in bob's browser context, where each blob: URL is opened
	// as "open link in new tab" would.
	other, cancel := chromedp.NewContext(bob.ctx)
	defer cancel()
	if err := chromedp.Do(other); err != nil { // the tab, bound to other rather than to a timeout
		t.Fatal(err)
	}
	opened := map[string]bool{}
	check := func(how string) {
		t.Helper()
		urls := eval[[]string](t, bob, `[...new Set([...document.querySelectorAll('[href^="blob:"], [src^="blob:"], [data^="blob:"], [srcset*="blob:"]')]
			.map((e) => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('data') || e.getAttribute('srcset')))]`)
		for _, u := range urls {
			if opened[u] {
				continue
			}
			opened[u] = true
			title := openIn(t, other, u)
			if strings.HasPrefix(title, "pwned") {
				t.Errorf("%s: opening %s ran the upload's script (title %q)", how, u, title)
			}
		}
		// Read and cleared at once, so that each way of viewing is judged alone.
		if keys := eval[[]string](t, bob, `Object.keys(localStorage).filter((k) => k.startsWith('pwned') && (localStorage.removeItem(k), true))`); len(keys) > 0 {
			t.Errorf("%s: an upload's script ran in the page's origin: it wrote %q to localStorage", how, keys)
		}
	}
	viewerShows := func(name string) string {
		return `document.querySelector('[data-testid=viewer]').dataset.path === ` + jsString(name) + ` &&
			document.querySelector('[data-testid=viewer]').dataset.state === 'shown'`
	}
	for _, name := range []string{"evil.html", "evil.svg"} {
		// Tapped (the preview, from the served URL), and fetched into the
		// page over the live connection and over HTTP (from a Blob).
		bob.do(t, "open "+name, chromedp.Click(chromedp.CSS(row(name)+` [data-testid=open]`)))
		bob.waitFor(t, name+" in the viewer", viewerShows(name))
		check("open " + name)
		for _, how := range []string{"view", "open-http"} {
			bob.do(t, how+" "+name, rowAction(row(name), how)...)
			bob.waitFor(t, name+" in the viewer", viewerShows(name))
			check(how + " " + name)
		}
		alice.do(t, "share "+name, rowAction(row(name), "share")...)
		card := `[data-testid=share-card][data-path=` + cssString(name) + `]`
		bob.waitFor(t, "the card of "+name, `document.querySelector(`+jsString(card)+`)`)
		check("the share card of " + name)
		bob.do(t, "open the card of "+name, chromedp.Click(chromedp.CSS(card+` [data-testid=open-share]`)))
		bob.waitFor(t, name+" from the card in the viewer", viewerShows(name))
		check("the shared " + name + " opened")
	}
	t.Logf("opened %d blob: URLs in a new tab", len(opened))
}

// openIn opens url in the tab of ctx, waits until the tab has loaded it (or
// the browser turned it into a download), and returns the document title.
func openIn(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, browserWait)
	defer cancel()
	res, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: url})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if res.ErrorText != "" { // a download (aborted by the deny policy): nothing rendered
		return ""
	}
	title, err := chromedp.Run(ctx, chromedp.Poll[string](`document.readyState === 'complete' && location.href === `+jsString(url)+` && (document.title || '(untitled)')`,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(browserWait)))
	if err != nil {
		t.Fatalf("the tab did not load %s: %v", url, err)
	}
	return title
}
