package e2e

// Browser tests of drop links and shared text: the owner's page makes a
// link, a person with nothing but the link sends a file from a phone, the
// room sees it arrive; text shared in the room is shown as typed, to those
// there and to those who come later.

import (
	"bytes"
	"context"
	"crypto/rand"
	"filehub/internal/harness"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browserLogin posts the token to the login form's endpoint from the tab,
// which keeps its cookie, then opens url.
func browserLogin(t *testing.T, tb *tab, token, url string) {
	t.Helper()
	status := evalAsync[int](t, tb, `fetch('/_/login', {method: 'POST', body: new URLSearchParams({token: `+jsString(token)+`, next: '/'})}).then(r => r.status)`)
	if status != 200 {
		t.Fatalf("%s: logging in: %d", tb.name, status)
	}
	tb.navigate(t, url)
}

// shot saves a screenshot of the tab as name.png in $FILEHUB_ARTIFACTS,
// when it is set: pictures of the pages for people to judge.
func shot(t *testing.T, tb *tab, name string) {
	t.Helper()
	d := os.Getenv("FILEHUB_ARTIFACTS")
	if d == "" {
		return
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserDropLink(t *testing.T) {
	browserCtx := startBrowser(t)
	dir := browserFixtures(t)
	if err := os.Mkdir(filepath.Join(dir, "incoming"), 0o755); err != nil {
		t.Fatal(err)
	}
	const token = "owner-token-7f3a-0123456789"
	// Uploads off: a drop link is its own door.
	ts := harness.Start(t, dir, "-token", token, "-state-dir", t.TempDir())

	owner := openTab(t, browserCtx, "owner", ts.URL+"/_/login")
	browserLogin(t, owner, token, ts.URL+"/?room=drops&name=olga")
	owner.waitFor(t, "connected", statusOpen+` && document.querySelector(`+jsString(row("incoming/"))+`)`)
	keepOnFailure(t, owner)

	// The owner opens the folder, then makes a link for it: the folder
	// shown is the default.
	owner.do(t, "open incoming", chromedp.Click(chromedp.CSS(row("incoming/")+` .name button`)))
	owner.waitFor(t, "incoming shown", `document.querySelector('[data-testid=crumbs]').textContent.includes('incoming')`)
	owner.do(t, "open drop links", chromedp.Click(chromedp.CSS(`[data-testid=drops-btn]`)))
	owner.waitFor(t, "the folder shown is the default", `document.querySelector('[data-testid=drop-path]').value === 'incoming/'`)
	owner.do(t, "make a link",
		chromedp.SetValue(chromedp.CSS(`[data-testid=drop-label]`), hostile),
		chromedp.SetValue(chromedp.CSS(`[data-testid=drop-max-files]`), "4"),
		chromedp.Click(chromedp.CSS(`[data-testid=drop-create]`)),
	)
	owner.waitFor(t, "the link listed", `document.querySelectorAll('[data-testid=drop-item]').length === 1`)
	link := eval[string](t, owner, `document.querySelector('[data-testid=drop-url]').value`)
	if !strings.HasPrefix(link, ts.URL+"/_/drop/") {
		t.Fatalf("the link shown: %q", link)
	}
	if eval[bool](t, owner, `!!document.querySelector('[data-testid=drop-item] img')`) {
		t.Fatal("the label became markup in the owner's list")
	}
	owner.do(t, "show its QR code", chromedp.Click(chromedp.CSS(`[data-testid=drop-item] button[aria-expanded]`)))
	owner.waitFor(t, "the QR code", `!!document.querySelector('[data-testid=drop-qr] svg')`)
	shot(t, owner, "drops-owner")

	// Someone with only the link, on a phone.
	guest := openTab(t, browserCtx, "guest", link, phoneViewport)
	keepOnFailure(t, owner, guest)
	guest.waitFor(t, "the page ready", `document.querySelector('[data-testid=drop-page]').dataset.state === 'ready'`)
	if got := eval[string](t, guest, `document.querySelector('[data-testid=drop-for]').textContent`); !strings.Contains(got, hostile) {
		t.Errorf("the label on the guest's page: %q", got)
	}
	if n := eval[int](t, guest, `document.querySelectorAll('main img').length`); n != 1 { // the brand's icon
		t.Errorf("%d images on the guest's page: the label became markup", n)
	}
	if !eval[bool](t, guest, noOverflow) {
		t.Error("the drop page scrolls sideways on a phone")
	}
	if small := eval[[]string](t, guest, smallTargets); len(small) > 0 {
		t.Errorf("controls too small for a finger: %v", small)
	}
	if w := eval[float64](t, guest, `document.querySelector('label[for=drop-input]').getBoundingClientRect().height`); w < 44 {
		t.Errorf("the file button is %v px tall, want at least 44", w)
	}

	// The guest picks a file: it lands in the folder, the room sees it.
	src := filepath.Join(t.TempDir(), "scan.pdf")
	content := make([]byte, 300<<10)
	rand.Read(content)
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	guest.do(t, "pick scan.pdf", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=drop-input]`), []string{src}))
	guest.waitFor(t, "sent", `[...document.querySelectorAll('[data-testid=drop-upload]')].some(li => li.dataset.state === 'ok' && li.dataset.name === 'scan.pdf')`)
	shot(t, guest, "drops-guest")
	if got, err := os.ReadFile(filepath.Join(dir, "incoming", "scan.pdf")); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("incoming/scan.pdf: %d bytes (%v), want the %d sent", len(got), err, len(content))
	}
	owner.waitFor(t, "the upload in the feed", `[...document.querySelectorAll('[data-testid=feed-entry][data-via=drop]')].some(e =>
		e.textContent.includes(`+jsString(hostile+" uploaded incoming/scan.pdf through a drop link")+`))`)
	owner.waitFor(t, "the folder listing shows it", `!!document.querySelector(`+jsString(row("incoming/scan.pdf"))+`)`)
	// The counts, live on both sides (issue 23): no reload, no reopening.
	guest.waitFor(t, "3 left", `document.querySelector('[data-testid=drop-limits]').textContent.includes('(3 left)')`)
	owner.waitFor(t, "the owner's card counts it", `document.querySelector('[data-testid=drop-item]')?.textContent.includes('1 of 4 files')`)

	// The same name again: the page sends it under another name.
	guest.do(t, "pick scan.pdf again", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=drop-input]`), []string{src}))
	guest.waitFor(t, "sent as scan (2).pdf", `[...document.querySelectorAll('[data-testid=drop-upload]')].some(li => li.dataset.state === 'ok' && li.dataset.name === 'scan (2).pdf')`)
	if got, _ := os.ReadFile(filepath.Join(dir, "incoming", "scan.pdf")); !bytes.Equal(got, content) {
		t.Fatal("scan.pdf was replaced")
	}
	guest.waitFor(t, "2 left", `document.querySelector('[data-testid=drop-limits]').textContent.includes('(2 left)')`)
	owner.waitFor(t, "the owner's card counts it", `document.querySelector('[data-testid=drop-item]')?.textContent.includes('2 of 4 files')`)

	// A slow one: the room sees it going, not only its end.
	slow := filepath.Join(t.TempDir(), "slow.pdf")
	if err := os.WriteFile(slow, bytes.Repeat([]byte("s"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	throttle := func(bps float64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(guest.ctx, browserWait)
		defer cancel()
		conds := []*network.Conditions{}
		if bps > 0 {
			conds = append(conds, &network.Conditions{URLPattern: ts.URL + "/*", UploadThroughput: bps, DownloadThroughput: -1})
		}
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: conds}); err != nil {
			t.Fatalf("throttle: %v", err)
		}
	}
	throttle(512 << 10)
	guest.do(t, "pick slow.pdf", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=drop-input]`), []string{slow}))
	owner.waitFor(t, "the room sees it going", `[...document.querySelectorAll('[data-testid=room-upload]')].some((li) => li.textContent.includes('is uploading incoming/slow.pdf'))`)
	shot(t, owner, "drops-owner-progress")
	guest.waitFor(t, "slow.pdf sent", `[...document.querySelectorAll('[data-testid=drop-upload]')].some(li => li.dataset.state === 'ok' && li.dataset.name === 'slow.pdf')`)
	throttle(0)
	guest.waitFor(t, "1 left", `document.querySelector('[data-testid=drop-limits]').textContent.includes('(1 left)')`)
	owner.waitFor(t, "the owner's card counts it", `document.querySelector('[data-testid=drop-item]')?.textContent.includes('3 of 4 files')`)

	// The guest's page read nothing but its link: no listing, no room.
	res := eval[[]string](t, guest, `performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)`)
	for _, p := range res {
		if !strings.HasPrefix(p, "/_/static/") && !strings.HasPrefix(p, "/_/drop/") {
			t.Errorf("the guest's page fetched %s", p)
		}
	}

	t.Run("Rules", func(t *testing.T) {
		js, err := os.ReadFile(filepath.Join("..", "web", "testdata", "drops_rules.js"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range evalAsync[[]string](t, guest, string(js)) {
			t.Error(f)
		}
	})

	t.Run("Revoked", func(t *testing.T) {
		owner.do(t, "revoke", chromedp.Click(chromedp.CSS(`[data-testid=drop-revoke]`)))
		owner.waitFor(t, "no live link", `document.querySelectorAll('[data-testid=drop-item]').length === 0`)
		other := filepath.Join(t.TempDir(), "late.txt")
		os.WriteFile(other, []byte("late"), 0o644)
		guest.do(t, "pick late.txt", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=drop-input]`), []string{other}))
		guest.waitFor(t, "refused, and said so", `document.querySelector('[data-testid=drop-page]').dataset.state === 'gone' &&
			document.querySelector('[data-testid=drop-for]').textContent.includes('expired or was revoked')`)
		if _, err := os.Stat(filepath.Join(dir, "incoming", "late.txt")); err == nil {
			t.Fatal("late.txt was written through a revoked link")
		}
		guest.navigate(t, link)
		guest.waitFor(t, "a reload says so too", `document.querySelector('[data-testid=drop-page]').dataset.state === 'gone'`)
	})

	t.Run("NoConsoleErrors", func(t *testing.T) {
		owner.checkClean(t)
		guest.checkClean(t)
	})
}

// TestBrowserShareText: text shared with the room is shown as text, every
// space and line kept, markup inert, with a Copy button; a later joiner
// sees it too.
func TestBrowserShareText(t *testing.T) {
	browserCtx := startBrowser(t)
	ts := harness.Start(t, browserFixtures(t))
	room := ts.URL + "/?room=text"
	ann := openTab(t, browserCtx, "ann", room+"&name=ann")
	bob := openTab(t, browserCtx, "bob", room+"&name=bob", phoneViewport)
	keepOnFailure(t, ann, bob)
	for _, tb := range []*tab{ann, bob} {
		tb.waitFor(t, "connected", statusOpen+` && `+memberCount(2))
	}
	const title = `<b>setup</b>`
	text := "  $ go test ./...\n\t<script>alert(1)</script>\n" + hostile + "\n\n   trailing   \n"
	ann.do(t, "share text",
		chromedp.Click(chromedp.CSS(`[data-testid=share-text-btn]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=share-text-body]`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid=share-text-name]`), title),
		chromedp.SetValue(chromedp.CSS(`[data-testid=share-text-body]`), text),
		chromedp.Click(chromedp.CSS(`[data-testid=share-text-send]`)),
	)
	ann.waitFor(t, "the dialog closed", `!document.querySelector('[data-testid=share-text]').open`)
	snippet := `[...document.querySelectorAll('[data-testid=chat-message].snippet')].find(li => li.querySelector('pre')?.textContent === ` + jsString(text) + `)`
	// What a snippet's item may hold: the sender, the title, the time, the
	// Copy button, the text; every one of them made by the page, none from
	// the snippet's text.
	shape := `(() => { const li = ` + snippet + `; return li ? [...li.querySelectorAll('*')].map(e => e.tagName.toLowerCase()).join(' ') : ''; })()`
	check := func(tb *tab) {
		t.Helper()
		tb.do(t, "show the chat", chromedp.Click(chromedp.CSS(`[data-testid=tab-chat]`)))
		tb.waitFor(t, "the snippet, verbatim", `!!`+snippet)
		if got := eval[string](t, tb, shape); got != "span span time button pre" {
			t.Errorf("%s: the snippet's item holds %q", tb.name, got)
		}
		if got := eval[string](t, tb, `(`+snippet+`).querySelector('.title').textContent`); got != title {
			t.Errorf("%s: title %q", tb.name, got)
		}
		if ws := eval[string](t, tb, `getComputedStyle((`+snippet+`).querySelector('pre')).whiteSpace`); ws != "pre-wrap" {
			t.Errorf("%s: the text is shown with white-space %s", tb.name, ws)
		}
	}
	check(bob)
	shot(t, bob, "share-text-phone")
	carl := openTab(t, browserCtx, "carl", room+"&name=carl", phoneViewport)
	keepOnFailure(t, ann, bob, carl)
	carl.waitFor(t, "connected", statusOpen)
	check(carl)
	for _, tb := range []*tab{ann, bob, carl} {
		tb.checkClean(t)
	}
}
