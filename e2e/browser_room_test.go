package e2e

// The room as people live in it (issue 23), tried with two desktops and a
// phone in one room: a share too large to inline arrives as an offer that
// costs nothing until opened.

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"filehub/internal/harness"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// noisePNG is a PNG of w×h random pixels: it does not compress, so it is
// over the inline limit from about 600×600.
func noisePNG(t *testing.T, w, hgt int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, hgt))
	r := rand.New(rand.NewPCG(1, 2))
	for y := range hgt {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(r.Uint32()), uint8(r.Uint32()), uint8(r.Uint32()), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// roomOfThree opens two desktops (ann, carl: 1280×800) and a phone (bob:
// 390×844) in one room of a server of dir.
func roomOfThree(t *testing.T, dir string, args ...string) (ts *harness.Server, ann, carl, bob *tab) {
	t.Helper()
	browserCtx := startBrowser(t)
	ts = harness.Start(t, dir, args...)
	room := ts.URL + "/?room=three"
	desk := chromedp.EmulateViewport(1280, 800)
	ann = openTab(t, browserCtx, "ann", room+"&name=ann", desk, withScript(t, "ws_harness.js"))
	carl = openTab(t, browserCtx, "carl", room+"&name=carl", desk, withScript(t, "ws_harness.js"))
	bob = openTab(t, browserCtx, "bob", room+"&name=bob", phoneViewport, withScript(t, "ws_harness.js"))
	keepOnFailure(t, ann, carl, bob)
	for _, tb := range []*tab{ann, carl, bob} {
		tb.waitFor(t, "connected", statusOpen+` && `+memberCount(3))
	}
	return ts, ann, carl, bob
}

// countBinary counts from now on the binary frames tb's page receives.
func countBinary(t *testing.T, tb *tab) {
	t.Helper()
	tb.do(t, "count binary frames", chromedp.Evaluate[chromedp.Void](`window.__bin = 0;
		__fh.current().addEventListener('message', (e) => { if (typeof e.data !== 'string') window.__bin++; })`))
}

func TestBrowserOffers(t *testing.T) {
	dir := t.TempDir()
	pic := noisePNG(t, 800, 800)
	if len(pic) <= 1<<20 {
		t.Fatalf("the picture is %d bytes: not over the inline limit", len(pic))
	}
	if err := os.WriteFile(filepath.Join(dir, "big.png"), pic, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.md"), []byte("first version\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ann, carl, bob := roomOfThree(t, dir, "-upload")
	for _, tb := range []*tab{carl, bob} {
		countBinary(t, tb)
	}
	bob.do(t, "to the shares", chromedp.Tap(chromedp.CSS(`[data-testid=tab-shared]`)))

	ann.waitFor(t, "big.png listed", `document.querySelector(`+jsString(row("big.png"))+`)`)
	ann.do(t, "share big.png", rowAction(row("big.png"), "share")...)
	card := `[data-testid=share-card][data-path="big.png"][data-offer]`
	offered := `(() => { const c = document.querySelector(` + jsString(card) + `);
		return c?.dataset.state === 'offered' && c.textContent.includes('ann') && c.textContent.includes('PNG') &&
			c.querySelector('[data-testid=open-share]') && c.querySelector('[data-testid=save-share]') && c.querySelector('[data-testid=dismiss-share]') &&
			c.querySelector('[data-testid=offer-thumb]')?.complete && c.querySelector('[data-testid=offer-thumb]').naturalWidth > 0 })()`
	for _, tb := range []*tab{ann, carl, bob} {
		tb.waitFor(t, "the offer of big.png, with its thumbnail", offered)
	}
	shot(t, carl, "offer-desktop")
	shot(t, bob, "offer-phone")
	if !eval[bool](t, bob, inView(card)) {
		t.Error("the offer is not on the phone's screen")
	}
	if !eval[bool](t, bob, noOverflow) {
		t.Error("the phone's page scrolls sideways with an offer")
	}
	// Until someone opens it, nothing of it moved over the live connection.
	for _, tb := range []*tab{carl, bob} {
		if n := eval[int](t, tb, `window.__bin`); n != 0 {
			t.Errorf("%s: %d binary frames for an offer nobody opened", tb.name, n)
		}
	}
	carl.do(t, "open the offer", chromedp.Click(chromedp.CSS(card+` [data-testid=open-share]`)))
	carl.waitFor(t, "big.png in the viewer", `document.querySelector('[data-testid=viewer]').dataset.path === 'big.png' &&
		document.querySelector('[data-testid=viewer]').dataset.state === 'shown'`)
	bob.do(t, "dismiss the offer", chromedp.Tap(chromedp.CSS(card+` [data-testid=dismiss-share]`)))
	bob.waitFor(t, "the card gone", `!document.querySelector(`+jsString(card)+`)`)
	if eval[bool](t, carl, `!document.querySelector(`+jsString(card)+`)`) {
		t.Error("bob's Dismiss took carl's card away")
	}

	// Overwrites are events: the feed says so (one line for both), carl's
	// viewer of big.png and everyone's cards of them say they changed and
	// offer the new version.
	ann.do(t, "share notes.md", rowAction(row("notes.md"), "share")...)
	notesCard := `[data-testid=share-card][data-path="notes.md"]`
	for _, tb := range []*tab{carl, bob} {
		tb.waitFor(t, "notes.md shared inline", `document.querySelector(`+jsString(notesCard)+`)?.textContent.includes('first version')`)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.md"), []byte("second version, longer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.png"), noisePNG(t, 700, 700), 0o644); err != nil {
		t.Fatal(err)
	}
	changedNote := `[...document.querySelectorAll('[data-testid=feed-note][data-kind=changed]')]`
	stale := func(card string) string {
		return `document.querySelector(` + jsString(card+` [data-testid=share-stale][data-state=changed] [data-testid=open-new-version]`) + `)`
	}
	carl.waitFor(t, "the feed, the viewer and the cards say what changed", changedNote+`.some((li) => li.textContent.includes('notes.md') && li.textContent.includes('big.png')) &&
		document.querySelector('[data-testid=viewer-stale][data-state=changed]') && `+stale(card)+` && `+stale(notesCard))
	if n := eval[int](t, carl, changedNote+`.length`); n != 1 {
		t.Errorf("carl's feed has %d lines of changes, want 1", n)
	}
	bob.waitFor(t, "the phone's card of notes.md says it changed", stale(notesCard))
	shot(t, carl, "changed-desktop")
	shot(t, bob, "changed-phone")
	bob.do(t, "open the new version", chromedp.Tap(chromedp.CSS(notesCard+` [data-testid=open-new-version]`)))
	bob.waitFor(t, "the new notes.md in the viewer", `document.querySelector('[data-testid=viewer]').dataset.path === 'notes.md' &&
		document.querySelector('[data-testid=viewer]').textContent.includes('second version')`)

	for _, tb := range []*tab{ann, carl, bob} {
		tb.checkClean(t)
	}
}

// TestBrowserNotices: joins in the feed as one line; news off a desktop's
// screen as a compact notice; Shared listing snippets and one's own
// shares; text typed during an outage kept beside the chat box, then sent
// when the room is back.
func TestBrowserNotices(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.md"), []byte("notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts, ann, carl, bob := roomOfThree(t, dir, "-upload")

	presence := `[...document.querySelectorAll('[data-testid=feed-note][data-kind=presence]')]`
	ann.waitFor(t, "carl and bob joined, one line", presence+`.some((li) => li.textContent.includes('carl and bob joined'))`)
	if n := eval[int](t, ann, presence+`.length`); n != 1 {
		t.Errorf("ann's feed has %d lines of joins, want 1", n)
	}

	// carl looks elsewhere (the bottom of a long page): bob's message is a
	// compact notice; Show brings the chat into view.
	carl.do(t, "scroll away", chromedp.Evaluate[chromedp.Void](`document.body.style.paddingBottom = '3000px'; window.scrollTo(0, document.body.scrollHeight)`))
	bob.do(t, "say something",
		chromedp.Tap(chromedp.CSS(`[data-testid=tab-chat]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=chat-input]`), "look here"),
		chromedp.Tap(chromedp.CSS(`[data-testid=chat-send]`)))
	carl.waitFor(t, "the notice of bob's message", `!document.querySelector('[data-testid=toast]').hidden &&
		document.querySelector('[data-testid=toast]').textContent.includes('bob: look here')`)
	shot(t, carl, "toast-desktop")
	carl.do(t, "show it", chromedp.Click(chromedp.CSS(`[data-testid=toast-show]`)))
	carl.waitFor(t, "the chat on the screen, the notice gone", `(() => { const r = document.querySelector('#chat').getBoundingClientRect();
		return document.querySelector('[data-testid=toast]').hidden && r.bottom > 0 && r.top < innerHeight })()`)
	if eval[bool](t, ann, `!document.querySelector('[data-testid=toast]').hidden`) {
		t.Error("ann, who sees the chat, got a notice too")
	}
	carl.do(t, "scroll back", chromedp.Evaluate[chromedp.Void](`document.body.style.paddingBottom = ''; window.scrollTo(0, 0)`))

	// carl looks at another tab: the title counts what came.
	carl.do(t, "look elsewhere", chromedp.Evaluate[chromedp.Void](`Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true })`))
	bob.do(t, "say more", chromedp.SendKeys(chromedp.CSS(`[data-testid=chat-input]`), "while you were away"), chromedp.Tap(chromedp.CSS(`[data-testid=chat-send]`)))
	carl.waitFor(t, "the title counts it", `document.title.startsWith('(1) three')`)
	carl.do(t, "come back", chromedp.Evaluate[chromedp.Void](`delete document.visibilityState; document.dispatchEvent(new Event('visibilitychange'))`))
	carl.waitFor(t, "the count gone", `document.title.startsWith('three')`)

	// A message the server refuses: the error beside the box, the text kept.
	carl.do(t, "too long a text", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=chat-input]').value = 'x'.repeat(70000);
		document.querySelector('[data-testid=chat-form]').requestSubmit()`))
	carl.waitFor(t, "the error beside the box", `(() => { const s = document.querySelector('[data-testid=chat-state]');
		return !s.hidden && s.dataset.state === 'error' && s.textContent.startsWith('Not sent:') && document.querySelector('[data-testid=chat-input]').value.length === 70000 })()`)
	t.Logf("carl's chat says %q", eval[string](t, carl, `document.querySelector('[data-testid=chat-state]').textContent`))
	carl.do(t, "clear it", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=chat-input]').value = ''`))

	// Shared lists snippets, and what one shared oneself.
	bob.do(t, "a snippet", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=chat-input]').value = 'line one\nline two';
		document.querySelector('[data-testid=chat-form]').requestSubmit()`))
	ann.waitFor(t, "the snippet in Shared", `[...document.querySelectorAll('[data-testid=share-card][data-snippet]')].some((c) => c.textContent.includes('line two'))`)
	src := filepath.Join(t.TempDir(), "mine.bin")
	if err := os.WriteFile(src, bytes.Repeat([]byte("m"), 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	bob.do(t, "to the files", chromedp.Tap(chromedp.CSS(`[data-testid=tab-files]`)))
	bob.do(t, "share as it uploads", chromedp.Tap(chromedp.CSS(`label[for=upload-share]`)))
	bob.do(t, "upload mine.bin", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=upload-input]`), []string{src}))
	bob.do(t, "to the shares", chromedp.Tap(chromedp.CSS(`[data-testid=tab-shared]`)))
	bob.waitFor(t, "bob's own share in his Shared", `[...document.querySelectorAll('[data-testid=share-card][data-path="mine.bin"]')].some((c) => c.textContent.includes('you shared'))`)
	shot(t, bob, "own-share-phone")

	// An outage: what carl types waits beside the chat box, then goes.
	ts.Stop()
	carl.waitFor(t, "the outage shown", `document.querySelector('[data-testid=status]').dataset.state !== 'open'`)
	carl.do(t, "type during the outage",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=chat-input]`), "typed while away"),
		chromedp.Click(chromedp.CSS(`[data-testid=chat-send]`)))
	carl.waitFor(t, "kept, said beside the box", `(() => { const s = document.querySelector('[data-testid=chat-state]');
		const box = document.querySelector('[data-testid=chat-input]').getBoundingClientRect(), r = s.getBoundingClientRect();
		return !s.hidden && s.dataset.state === 'waiting' && s.textContent.includes('sent when the room is back') &&
			document.querySelector('[data-testid=chat-input]').value === 'typed while away' && Math.abs(r.top - box.bottom) < 80 })()`)
	if eval[bool](t, carl, `!document.querySelector('#notice').hidden && document.querySelector('#notice').textContent.includes('not sent')`) {
		t.Error("the chat's state went to the notice at the top too")
	}
	shot(t, carl, "outage-desktop")
	harness.Start(t, dir, "-upload", "-addr", ts.Addr)
	ann.waitFor(t, "carl's message, sent when the room was back", `[...document.querySelectorAll('[data-testid=chat-message]')].some((m) => m.textContent.startsWith('carl: typed while away'))`)
	carl.waitFor(t, "the box empty, the line gone", `document.querySelector('[data-testid=chat-input]').value === '' && document.querySelector('[data-testid=chat-state]').hidden`)
	for _, tb := range []*tab{ann, carl, bob} {
		tb.checkClean(t)
	}
}

// tabsTo presses Tab from the top of tb's page until the element sel has
// the focus, and returns how many presses that took (-1: not within max),
// with the ids or test ids of the stops on the way.
func tabsTo(t *testing.T, tb *tab, sel string, max int) (int, []string) {
	t.Helper()
	tb.do(t, "focus the top", chromedp.Evaluate[chromedp.Void](`document.activeElement?.blur(); window.scrollTo(0, 0);
		document.body.setAttribute('tabindex', '-1'); document.body.focus(); document.body.removeAttribute('tabindex')`))
	var stops []string
	for i := 1; i <= max; i++ {
		tb.do(t, "Tab", chromedp.KeyEvent(kb.Tab))
		at := eval[string](t, tb, `(() => { const a = document.activeElement; return a.id || a.dataset.testid || a.getAttribute('aria-label') || a.textContent.trim().slice(0, 20); })()`)
		stops = append(stops, at)
		if eval[bool](t, tb, `document.activeElement === document.querySelector(`+jsString(sel)+`)`) {
			return i, stops
		}
	}
	return -1, stops
}

// TestBrowserKeyboard: skip links to Files, Shared and Chat; the list is
// one Tab stop with arrow keys in it; Escape closes the panels; at most 15
// Tab stops from the top to the chat input, on a desktop and on a phone.
func TestBrowserKeyboard(t *testing.T) {
	dir := t.TempDir()
	for i := range 30 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f-%02d.txt", i)), []byte("x"), 0o644)
	}
	os.Mkdir(filepath.Join(dir, "docs"), 0o755)
	_, ann, carl, bob := roomOfThree(t, dir, "-upload")
	for _, tb := range []*tab{ann, carl, bob} {
		tb.waitFor(t, "the listing", `document.querySelector(`+jsString(row("f-29.txt"))+`)`)
	}

	// A room lived in: shares (cards of buttons), a feed of links.
	for _, name := range []string{"f-00.txt", "f-01.txt", "f-02.txt"} {
		ann.do(t, "share "+name, rowAction(row(name), "share")...)
	}
	carl.waitFor(t, "three cards, three feed links", `document.querySelectorAll('[data-testid=share-card]').length === 3 &&
		document.querySelectorAll('#feed a[href]').length >= 3`)
	// Desktop: Tab alone reaches the chat input within 15 stops, the list
	// of 31 entries being one of them, the shares one, the feed one.
	for _, tb := range []*tab{ann, carl} {
		n, stops := tabsTo(t, tb, `[data-testid=chat-input]`, 60)
		t.Logf("%s: %d Tab stops to the chat input: %q", tb.name, n, stops)
		if n < 0 || n > 15 {
			t.Errorf("%s: %d Tab stops from the top to the chat input, want at most 15: %q", tb.name, n, stops)
		}
	}
	// Phone and desktop: the skip links, the first Tab stop; the arrows
	// choose among them, all three shown.
	for _, tb := range []*tab{ann, bob} {
		n, _ := tabsTo(t, tb, `[data-testid=skip-files]`, 5)
		if n != 1 {
			t.Errorf("%s: the skip links are Tab stop %d, want 1", tb.name, n)
		}
		tb.do(t, "to Skip to chat", chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight))
		if got := eval[string](t, tb, `document.activeElement.dataset.testid + ' ' + ['skip-files', 'skip-shared', 'skip-chat'].every((id) => document.querySelector('[data-testid=' + id + ']').getBoundingClientRect().left >= 0)`); got != "skip-chat true" {
			t.Errorf("%s: after →→ %q, want skip-chat, all three shown", tb.name, got)
		}
		shot(t, tb, "skip-links-"+tb.name)
		tb.do(t, "skip to the chat", chromedp.KeyEvent(kb.Enter))
		tb.waitFor(t, "the chat input focused, on the screen", `document.activeElement === document.querySelector('[data-testid=chat-input]') &&
			(() => { const r = document.activeElement.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight })()`)
	}
	bob.do(t, "skip to shared", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=skip-shared]').focus()`), chromedp.KeyEvent(kb.Enter))
	bob.waitFor(t, "the phone shows Shared", `document.querySelector('#layout').dataset.tab === 'shared' && document.activeElement.id === 'shares-section'`)
	bob.do(t, "skip to files", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=skip-files]').focus()`), chromedp.KeyEvent(kb.Enter))
	bob.waitFor(t, "the phone shows Files", `document.querySelector('#layout').dataset.tab === 'files' && document.activeElement.id === 'files'`)

	// Arrow keys in the list: down, down, end, home; right to the menu.
	focused := `document.activeElement.closest('tr')?.dataset.path`
	ann.do(t, "focus the list", chromedp.Evaluate[chromedp.Void](`document.querySelector('#listing button.open[tabindex="0"]').focus()`))
	for _, step := range []struct {
		key  string
		want string
	}{{kb.Home, "docs/"}, {kb.ArrowDown, "f-00.txt"}, {kb.ArrowDown, "f-01.txt"}, {kb.End, "f-29.txt"}, {kb.ArrowUp, "f-28.txt"}} {
		ann.do(t, "a key", chromedp.KeyEvent(step.key))
		if got := eval[string](t, ann, focused); got != step.want {
			t.Errorf("after %q the focus is on %q, want %q", step.key, got, step.want)
		}
	}
	ann.do(t, "right", chromedp.KeyEvent(kb.ArrowRight))
	if got := eval[string](t, ann, `document.activeElement.dataset.testid`); got != "menu" {
		t.Errorf("→ from a name focuses %q, want the row's menu button", got)
	}
	if n := eval[int](t, ann, `document.querySelectorAll('#listing [tabindex="0"]').length`); n != 1 {
		t.Errorf("%d Tab stops in the list, want 1", n)
	}

	// Escape closes every panel and dialog, the focus back on its button.
	for _, p := range []struct{ btn, panel string }{{"invite-btn", "#invite"}, {"drops-btn", "#drops"}, {"share-text-btn", "#share-text"}} {
		ann.do(t, "open "+p.panel, chromedp.Click(chromedp.CSS(`[data-testid=`+p.btn+`]`)))
		ann.waitFor(t, p.panel+" open", `(() => { const e = document.querySelector(`+jsString(p.panel)+`); return e.tagName === 'DIALOG' ? e.open : !e.hidden })()`)
		ann.do(t, "into it, Escape", chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(p.panel)+`).querySelector('input, select, textarea, button')?.focus()`), chromedp.KeyEvent(kb.Escape))
		ann.waitFor(t, p.panel+" closed", `(() => { const e = document.querySelector(`+jsString(p.panel)+`); return e.tagName === 'DIALOG' ? !e.open : e.hidden })()`)
	}

	// One focus ring: the share choice rings itself, not "Choose files…".
	ann.do(t, "focus the share choice", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=upload-input]').focus()`), chromedp.KeyEvent(kb.Tab))
	if got := eval[string](t, ann, `document.activeElement.id + ' ' + getComputedStyle(document.querySelector('label[for=upload-input]')).outlineStyle`); got != "upload-share none" {
		t.Errorf("with the share choice focused: %q, want upload-share and no ring on Choose files", got)
	}
	for _, tb := range []*tab{ann, carl, bob} {
		tb.checkClean(t)
	}
}
