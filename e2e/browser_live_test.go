package e2e

// Browser tests of the live page (issue 14): the listing follows the folder
// as it changes by any means, keeping the person's place; each file shows
// who in the room has it; an upload can be shared with the room as it
// uploads, and the room's pages fill its card as the bytes arrive. One
// browser, one server, a person at a desktop's size and one at a phone's,
// as in browser_test.go (whose helpers these use).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// folderOps changes the served folder through the OS, as a shell or a sync
// tool would: the server's watcher tells the open pages (fs frames), and
// the test waits on what the pages show.
type folderOps struct {
	dir string
}

// write creates (or replaces) files through the OS.
func (f *folderOps) write(t *testing.T, files map[string]string) {
	t.Helper()
	testutil.WriteTree(t, f.dir, files)
}

// remove removes a file or a folder, with everything in it, through the OS.
func (f *folderOps) remove(t *testing.T, rel string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(f.dir, filepath.FromSlash(rel))); err != nil {
		t.Fatal(err)
	}
}

// rowLive is a predicate: the row of path is listed and highlighted as how
// ("add" or "change").
func rowLive(path, how string) string {
	return `(() => { const r = document.querySelector(` + jsString(row(path)) + `); return !!r && r.classList.contains('live') && r.dataset.live === ` + jsString(how) + ` })()`
}

func noRow(path string) string {
	return `!document.querySelector(` + jsString(row(path)) + `)`
}

// feedNote is a predicate: a note of the page's own in the feed says text.
func feedNote(kind, text string) string {
	return `[...document.querySelectorAll('[data-testid=feed-note][data-kind=` + kind + `]')].some((n) => n.textContent.includes(` + jsString(text) + `))`
}

// holdersOf is the text of the who-has-it chips of path's row.
func holdersOf(path string) string {
	return `[...document.querySelectorAll(` + jsString(row(path)+` [data-testid=holder]`) + `)].map((c) => c.textContent).join(',')`
}

// liveFixtures is a folder as a class has it: a handout, notes, a folder
// with a subfolder, and enough files that the listing is taller than a
// screen.
func liveFixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"handout.txt":   "handout-marker\n",
		"notes.md":      "notes-marker\nline two\n",
		"docs/a.md":     "doc-a\n",
		"docs/sub/b.md": "doc-b\n",
	}
	for i := range 40 {
		files[fmt.Sprintf("m-%02d.txt", i)] = fmt.Sprintf("file %d\n", i)
	}
	testutil.WriteTree(t, dir, files)
	return dir
}

// TestBrowserLive: ann at a desktop (1280×900), bob on a phone (390×844),
// in one room of a server with uploads on.
func TestBrowserLive(t *testing.T) {
	browserCtx := startBrowser(t)
	dir := liveFixtures(t)
	ts := harness.Start(t, dir, "-upload")
	room := ts.URL + "/?room=live"
	ann := openTab(t, browserCtx, "ann", room+"&name=ann", chromedp.EmulateViewport(1280, 900), withScript(t, "ws_harness.js"))
	bob := openTab(t, browserCtx, "bob", room+"&name=bob", phoneViewport, withScript(t, "ws_harness.js"))
	keepOnFailure(t, ann, bob)
	for _, tb := range []*tab{ann, bob} {
		tb.waitFor(t, "connected, the listing shown", statusOpen+` && `+memberCount(2)+` && document.querySelector(`+jsString(row("m-39.txt"))+`)`)
	}
	folder := &folderOps{dir: dir}

	t.Run("AppearsAndGoes", func(t *testing.T) {
		folder.write(t, map[string]string{"fresh.txt": "fresh-marker\n"})
		for _, tb := range []*tab{ann, bob} {
			tb.waitFor(t, "fresh.txt listed and highlighted", rowLive("fresh.txt", "add")+` && `+feedNote("appeared", "fresh.txt appeared"))
		}
		// The highlight is a CSS animation, none when motion is reduced.
		if got := eval[string](t, ann, `getComputedStyle(document.querySelector(`+jsString(row("fresh.txt"))+`)).animationName`); got != "live-row" {
			t.Errorf("the highlight's animation is %q, want live-row", got)
		}
		if got := eval[string](t, bob, `document.querySelector('#listing-state').textContent`); got != "44 entries" {
			t.Errorf("bob's listing says %q, want 44 entries", got)
		}
		if !eval[bool](t, bob, noOverflow) {
			t.Error("the phone's page scrolls sideways with a highlighted row")
		}
		// bob asked for reduced motion: a mark in the margin, no fade.
		reduceMotion(t, bob, "reduce")
		folder.write(t, map[string]string{"fresh.txt": "fresh-marker, longer now\n"})
		bob.waitFor(t, "the new size in place", rowLive("fresh.txt", "change")+` && document.querySelector(`+jsString(row("fresh.txt")+` td.num`)+`).textContent === '25 B'`)
		if got := eval[[]string](t, bob, `[document.querySelector(`+jsString(row("fresh.txt"))+`), document.querySelector(`+jsString(row("fresh.txt")+` td`)+`)].map((e) => getComputedStyle(e).animationName)`); strings.Join(got, " ") != "none live-mark" {
			t.Errorf("with reduced motion the row animates %q, want none and a mark (live-mark)", got)
		}
		reduceMotion(t, bob, "")
		folder.remove(t, "fresh.txt")
		for _, tb := range []*tab{ann, bob} {
			tb.waitFor(t, "fresh.txt gone", noRow("fresh.txt")+` && `+feedNote("removed", "fresh.txt was removed"))
		}
		if n := eval[int](t, ann, `__fh.kinds('list').length`); n != 1 {
			t.Errorf("ann's page listed the folder %d times, want once (at the start): the changes came as frames", n)
		}
	})

	t.Run("KeepsPlace", func(t *testing.T) {
		// ann reads notes.md, scrolls down the listing to m-20 and has its
		// name's button focused; bob, on the phone, scrolled there too. Then
		// 50 files are copied in, all sorting above m-20.
		ann.do(t, "open notes.md", rowAction(row("notes.md"), "view")...)
		ann.waitFor(t, "notes.md shown", `document.querySelector('[data-testid=viewer]').dataset.state === 'shown' && document.querySelector('[data-testid=viewer]').dataset.path === 'notes.md'`)
		place := `(() => { const r = document.querySelector(` + jsString(row("m-20.txt")) + `); const b = r.getBoundingClientRect();
			window.scrollBy(0, b.top - 300); r.querySelector('[data-testid=open]').focus({ preventScroll: true });
			return r.getBoundingClientRect().top })()`
		topOf := `document.querySelector(` + jsString(row("m-20.txt")) + `).getBoundingClientRect().top`
		// bob's browser plays one without scroll anchoring (Safari): the page
		// itself keeps the place there; Chromium would otherwise do it alone.
		bob.do(t, "no scroll anchoring", chromedp.Evaluate[chromedp.Void](`document.documentElement.style.overflowAnchor = 'none'`))
		before := map[*tab]float64{ann: eval[float64](t, ann, place), bob: eval[float64](t, bob, place)}
		notesBefore := eval[int](t, ann, `document.querySelectorAll('[data-testid=feed-note][data-kind=appeared]').length`)
		files := map[string]string{}
		for i := range 50 {
			files[fmt.Sprintf("a-%02d.txt", i)] = fmt.Sprintf("new %d\n", i)
		}
		all50 := `document.querySelectorAll('tr[data-path^="a-"]').length === 50`
		folder.write(t, files)
		for _, tb := range []*tab{ann, bob} {
			tb.waitFor(t, "the 50 files listed", all50+` && `+rowLive("a-00.txt", "add"))
			if got := eval[float64](t, tb, topOf); got < before[tb]-2 || got > before[tb]+2 {
				t.Errorf("%s: m-20.txt moved on the screen from %.0f to %.0f px when 50 files appeared above it", tb.name, before[tb], got)
			}
			if got := eval[string](t, tb, `document.activeElement?.closest('tr')?.dataset.path ?? ''`); got != "m-20.txt" {
				t.Errorf("%s: the focus moved to %q", tb.name, got)
			}
		}
		if got := eval[string](t, ann, `document.querySelector('[data-testid=viewer]').dataset.state + ' ' + document.querySelector('[data-testid=viewer]').dataset.path`); got != "shown notes.md" {
			t.Errorf("the viewer now %q, want still notes.md", got)
		}
		// One line in the feed for the 50, however the server batched them.
		ann.waitFor(t, "one note for the 50", `/and (48|49) others appeared/.test(document.querySelector('[data-testid=feed-note][data-kind=appeared]')?.textContent ?? '')`)
		if n := eval[int](t, ann, `document.querySelectorAll('[data-testid=feed-note][data-kind=appeared]').length`) - notesBefore; n > 1 {
			t.Errorf("%d feed lines for 50 files that appeared at once, want 1", n)
		}
		// What ann is reading changed in the folder: the viewer says so, and keeps it.
		folder.write(t, map[string]string{"notes.md": "notes-marker\nline two\nline three\n"})
		ann.waitFor(t, "the viewer says the file changed", `document.querySelector('[data-testid=viewer-stale]')?.dataset.state === 'changed' &&
			document.querySelector('[data-testid=viewer] [data-testid=content]').textContent === 'notes-marker\nline two\n'`)
		for _, tb := range []*tab{ann, bob} {
			tb.do(t, "back to the top", chromedp.Evaluate[chromedp.Void](`document.activeElement?.blur(); window.scrollTo(0, 0)`))
		}
	})

	t.Run("RemovedFolder", func(t *testing.T) {
		ann.do(t, "open docs", chromedp.Click(chromedp.CSS(row("docs/")+` .name button`)))
		ann.waitFor(t, "docs/ shown", `document.querySelector(`+jsString(row("docs/sub/"))+`)`)
		ann.do(t, "open docs/sub", chromedp.Click(chromedp.CSS(row("docs/sub/")+` .name button`)))
		ann.waitFor(t, "docs/sub/ shown", `document.querySelector(`+jsString(row("docs/sub/b.md"))+`)`)
		folder.remove(t, "docs")
		ann.waitFor(t, "back at the root, told why", `document.querySelector(`+jsString(row("m-00.txt"))+`) && !document.querySelector(`+jsString(row("docs/"))+`) &&
			document.querySelector('[data-testid=crumbs] [aria-current]').textContent === document.querySelector('[data-testid=crumbs] li:first-child button').textContent &&
			document.querySelector('[data-testid=listing-note]').textContent.includes('docs/ was removed')`)
		bob.waitFor(t, "docs/ gone from bob's listing", noRow("docs/")+` && `+feedNote("removed", "docs/"))
		// Opening another folder clears the note.
		folder.write(t, map[string]string{"more/x.txt": "x\n"})
		ann.waitFor(t, "more/ listed", `document.querySelector(`+jsString(row("more/"))+`)`)
		ann.do(t, "open more", chromedp.Click(chromedp.CSS(row("more/")+` .name button`)))
		ann.waitFor(t, "more/ shown without the note", `document.querySelector(`+jsString(row("more/x.txt"))+`) && document.querySelector('[data-testid=listing-note]').hidden`)
		ann.do(t, "back to the root", chromedp.Click(chromedp.CSS(`[data-testid=crumbs] li:first-child button`)))
		ann.waitFor(t, "the root", `document.querySelector(`+jsString(row("handout.txt"))+`)`)
	})

	t.Run("WhoHasIt", func(t *testing.T) {
		// ann read notes.md (KeepsPlace): bob sees her name on it, ann "you".
		bob.waitFor(t, "ann on notes.md", holdersOf("notes.md")+` === 'ann'`)
		ann.waitFor(t, "you on notes.md", holdersOf("notes.md")+` === 'you'`)
		bob.do(t, "open handout.txt over the live connection", chromedp.Evaluate[chromedp.Void](menuClick(row("handout.txt"), "view")))
		ann.waitFor(t, "bob on handout.txt", holdersOf("handout.txt")+` === 'bob'`)
		bob.waitFor(t, "bob's viewer", `document.querySelector('[data-testid=viewer]').dataset.state === 'shown'`)
		bob.do(t, "close the viewer", chromedp.Tap(chromedp.CSS(`[data-testid=viewer-close]`)))
		bob.waitFor(t, "closed", `!document.querySelector('[data-testid=viewer-panel]').hasAttribute('data-open')`)
		bob.do(t, "open m-05.txt over HTTP", chromedp.Evaluate[chromedp.Void](menuClick(row("m-05.txt"), "open-http")))
		ann.waitFor(t, "bob on m-05.txt, over HTTP", holdersOf("m-05.txt")+` === 'bob' && document.querySelector(`+jsString(row("m-05.txt")+` [data-testid=holders]`)+`).title.includes('bob opened it over HTTP')`)
		bob.waitFor(t, "bob's viewer", `document.querySelector('[data-testid=viewer]').dataset.state === 'shown' && document.querySelector('[data-testid=viewer]').dataset.path === 'm-05.txt'`)
		bob.do(t, "close the viewer", chromedp.Tap(chromedp.CSS(`[data-testid=viewer-close]`)))
		ann.do(t, "open handout.txt", rowAction(row("handout.txt"), "view")...)
		bob.waitFor(t, "bob (you, first) and ann on handout.txt", holdersOf("handout.txt")+` === 'you,ann'`)
		ann.do(t, "share handout.txt", rowAction(row("handout.txt"), "share")...)
		bob.waitFor(t, "everyone has it", holdersOf("handout.txt")+` === 'everyone,you,ann'`)
		if !eval[bool](t, bob, noOverflow) {
			t.Error("the phone's page scrolls sideways with the who-has-it chips")
		}
		if small := eval[[]string](t, bob, smallTargets); len(small) > 0 {
			t.Errorf("phone: controls smaller than 40×40: %q", small)
		}
	})

	t.Run("GrowingShareCard", func(t *testing.T) { testGrowingCard(t, bob) })
	t.Run("ShareAsItUploads", func(t *testing.T) { testShareAsItUploads(t, ts, ann, bob) })

	t.Run("NoConsoleErrors", func(t *testing.T) {
		ann.checkClean(t)
		bob.checkClean(t)
	})
}

// testGrowingCard plays a share that fills as it uploads into bob's page
// (the frames the server sends for PUT ?share=1): the card fills, offers
// nothing before file-end, then verifies and offers Open and Save; an
// upload cut off marks its card failed and offers nothing.
func testGrowingCard(t *testing.T, bob *tab) {
	body, sum := seeded(300<<10, 9)
	const stream = 4000001 // far from the server's own numbers
	bob.do(t, "to the shares", chromedp.Tap(chromedp.CSS(`[data-testid=tab-shared]`)))
	bob.do(t, "a share as it uploads starts", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const at = new Date().toISOString();
		__fh.inject({ kind: 'batch', frames: [
			{ kind: 'shared', by: { id: 'zz', name: 'cy' }, path: 'talk.bin', size: %[2]d, type: 'application/octet-stream', modified: at, url: '/talk.bin', stream: %[1]d, at },
			{ kind: 'file-start', stream: %[1]d, path: 'talk.bin', size: %[2]d, type: 'application/octet-stream', modified: at, growing: true },
		] });
		// A binary frame of the stream n, as the server sends it.
		window.__chunk = (n, b64) => {
			const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
			const buf = new Uint8Array(4 + bytes.length);
			new DataView(buf.buffer).setUint32(0, n, false);
			buf.set(bytes, 4);
			__fh.current().dispatchEvent(new MessageEvent('message', { data: buf.buffer }));
		};
	})()`, stream, len(body))))
	card := `[data-testid=share-card][data-path="talk.bin"]`
	half := len(body) / 2
	chunk := func(n int, b []byte) string { return fmt.Sprintf(`__chunk(%d, %s)`, n, jsString(b64(b))) }
	bob.do(t, "the first half arrives", chromedp.Evaluate[chromedp.Void](chunk(stream, body[:half])))
	bob.waitFor(t, "the card half full, nothing offered", `(() => { const c = document.querySelector(`+jsString(card)+`);
		return c?.dataset.state === 'receiving' && c.querySelector('[data-testid=share-progress]').value === 50 &&
			!c.querySelector('[data-testid=save], [data-testid=open-share]') })()`)
	if !eval[bool](t, bob, inView(card)) {
		t.Error("the card is not on the phone's screen")
	}
	if !eval[bool](t, bob, noOverflow) {
		t.Error("the phone's page scrolls sideways with a card filling")
	}
	bob.do(t, "the rest, and file-end", chromedp.Evaluate[chromedp.Void](chunk(stream, body[half:])+`;
		__fh.inject({ kind: 'file-end', stream: `+fmt.Sprint(stream)+`, sha256: `+jsString(sum)+` })`))
	bob.waitFor(t, "verified, offered", `(() => { const c = document.querySelector(`+jsString(card)+`);
		return c?.dataset.state === 'done' && c.querySelector('[data-testid=verify]')?.dataset.state === 'ok' && c.querySelector('[data-testid=save]') && c.querySelector('[data-testid=open-share]') })()`)
	if got := sha256Hex(saved(t, bob, card+` [data-testid=save]`)); got != sum {
		t.Errorf("the saved bytes hash to %s, want %s", got, sum)
	}
	if small := eval[[]string](t, bob, smallTargets); len(small) > 0 {
		t.Errorf("phone: controls smaller than 40×40: %q", small)
	}

	// Cut off: the card fails; the bytes that came are not offered.
	bob.do(t, "an upload that is cut off", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		__fh.inject({ kind: 'batch', frames: [
			{ kind: 'shared', by: { id: 'zz', name: 'cy' }, path: 'cut.bin', size: 1000, type: 'text/plain', url: '/cut.bin', stream: %[1]d },
			{ kind: 'file-start', stream: %[1]d, path: 'cut.bin', size: 1000, type: 'text/plain', growing: true },
		] });
	})()`, stream+1)))
	bob.do(t, "some bytes", chromedp.Evaluate[chromedp.Void](chunk(stream+1, []byte("partial"))))
	bob.do(t, "the upload aborted", chromedp.Evaluate[chromedp.Void](`__fh.inject({ kind: 'error', stream: `+fmt.Sprint(stream+1)+`, code: 'aborted', message: 'the upload was interrupted' })`))
	bob.waitFor(t, "the card failed, nothing offered", `(() => { const c = document.querySelector('[data-testid=share-card][data-path="cut.bin"]');
		return c?.dataset.state === 'failed' && c.querySelector('[data-testid=share-failed]')?.textContent.includes('interrupted') &&
			!c.querySelector('[data-testid=save], [data-testid=open-share], a[href^="blob:"]') })()`)
	if eval[bool](t, bob, `!document.querySelector('#notice').hidden`) {
		t.Errorf("the stream's error also showed as a notice: %q", eval[string](t, bob, `document.querySelector('#notice').textContent`))
	}
	bob.do(t, "to the files", chromedp.Tap(chromedp.CSS(`[data-testid=tab-files]`)))
}

// testShareAsItUploads: ann uploads with "share with the room as it
// uploads" over a slow link; bob's card fills before her upload is done,
// then holds the file, verified. A second upload that ann cancels marks
// bob's card failed.
func testShareAsItUploads(t *testing.T, ts *harness.Server, ann, bob *tab) {
	const size = 4 << 20
	body, sum := seeded(size, 14)
	src := filepath.Join(t.TempDir(), "lecture.bin")
	if err := os.WriteFile(src, body, 0o644); err != nil {
		t.Fatal(err)
	}
	// ann's uploads crawl (1 MiB/s), so that the room sees them mid-way.
	throttle := func(bps float64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ann.ctx, browserWait)
		defer cancel()
		conds := []*network.Conditions{}
		if bps > 0 {
			conds = append(conds, &network.Conditions{URLPattern: ts.URL + "/*", UploadThroughput: bps, DownloadThroughput: -1})
		}
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: conds}); err != nil {
			t.Fatalf("throttle: %v", err)
		}
	}
	throttle(1 << 20)
	defer throttle(0)

	ann.do(t, "share as it uploads", chromedp.Click(chromedp.CSS(`label[for=upload-share]`)))
	if !eval[bool](t, ann, `document.querySelector('[data-testid=upload-share]').checked && !document.querySelector('#upload-share-hint').hidden &&
		document.querySelector('#upload-share-hint').textContent.includes('can’t resume if interrupted')`) {
		t.Fatal("the choice is not on, or does not say that it cannot resume")
	}
	bob.do(t, "to the shares", chromedp.Tap(chromedp.CSS(`[data-testid=tab-shared]`)))
	ann.do(t, "upload lecture.bin", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=upload-input]`), []string{src}))
	upRow := `document.querySelector('[data-testid=upload][data-path="lecture.bin"]')`
	card := `[data-testid=share-card][data-path="lecture.bin"][data-growing]`
	bob.waitFor(t, "the card filling", `Number(document.querySelector(`+jsString(card)+`)?.dataset.received) > 0`)
	if got := eval[string](t, ann, upRow+`.dataset.state + ' ' + `+upRow+`.textContent`); !strings.HasPrefix(got, "uploading ") || !strings.Contains(got, "can’t resume if interrupted") {
		t.Errorf("ann's upload row while bob's card fills: %q, want uploading, saying it can't resume", got)
	}
	bob.waitFor(t, "lecture.bin verified", `document.querySelector(`+jsString(card+` [data-testid=verify]`)+`)?.dataset.state === 'ok'`)
	if got := saved(t, bob, card+` [data-testid=save]`); !bytes.Equal(got, body) {
		t.Errorf("bob saved %d bytes (sha256 %s), want lecture.bin's %d (%s)", len(got), sha256Hex(got), len(body), sum)
	}
	if got := eval[string](t, bob, `document.querySelector(`+jsString(card+` [data-testid=verify]`)+`).dataset.sha256`); got != sum {
		t.Errorf("the card verified %s, want %s", got, sum)
	}
	ann.waitFor(t, "ann's upload done", upRow+`?.dataset.state === 'ok'`)
	// Everyone in the room received it: who-has-it says so.
	bob.do(t, "to the files", chromedp.Tap(chromedp.CSS(`[data-testid=tab-files]`)))
	bob.waitFor(t, "everyone has lecture.bin", holdersOf("lecture.bin")+`.startsWith('everyone,')`)
	bob.do(t, "to the shares", chromedp.Tap(chromedp.CSS(`[data-testid=tab-shared]`)))

	// Cancelled mid-way: bob's card fails and offers nothing.
	src2 := filepath.Join(t.TempDir(), "draft.bin")
	if err := os.WriteFile(src2, body, 0o644); err != nil {
		t.Fatal(err)
	}
	ann.do(t, "upload draft.bin", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=upload-input]`), []string{src2}))
	card2 := `[data-testid=share-card][data-path="draft.bin"][data-growing]`
	bob.waitFor(t, "draft.bin arriving", `Number(document.querySelector(`+jsString(card2)+`)?.dataset.received) > 0`)
	ann.do(t, "cancel", chromedp.Click(chromedp.CSS(`[data-testid=upload][data-path="draft.bin"] [data-testid=upload-cancel]`)))
	ann.waitFor(t, "cancelled", `document.querySelector('[data-testid=upload][data-path="draft.bin"]')?.dataset.state === 'cancelled'`)
	bob.waitFor(t, "bob's card failed, nothing offered", `(() => { const c = document.querySelector(`+jsString(card2)+`);
		return c?.dataset.state === 'failed' && !c.querySelector('[data-testid=save], [data-testid=open-share], a[href^="blob:"]') })()`)
	if _, err := os.Stat(filepath.Join(ts.Dir, "draft.bin")); err == nil {
		t.Error("the cancelled draft.bin is in the folder")
	}
	bob.do(t, "to the files", chromedp.Tap(chromedp.CSS(`[data-testid=tab-files]`)))
}

// reduceMotion emulates prefers-reduced-motion: value ("reduce"), or none ("").
func reduceMotion(t *testing.T, tb *tab, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	var features []*emulation.MediaFeature
	if value != "" {
		features = []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: value}}
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features}); err != nil {
		t.Fatalf("%s: emulate prefers-reduced-motion %q: %v", tb.name, value, err)
	}
}

// saved clicks the Save link of sel in the tab, as a person would, and
// returns the bytes the browser wrote to disk. (The page's CSP keeps the
// page itself from reading a blob: URL back with fetch.)
func saved(t *testing.T, tb *tab, sel string) []byte {
	t.Helper()
	dir := t.TempDir()
	href := eval[string](t, tb, `document.querySelector(`+jsString(sel)+`)?.href ?? ''`)
	if !strings.HasPrefix(href, "blob:") {
		t.Fatalf("%s: the Save link is %q, want a blob: URL", tb.name, href)
	}
	done := make(chan string, 1)
	ctx, cancel := context.WithCancel(tb.ctx)
	defer cancel()
	var guid string
	var mu sync.Mutex
	if err := chromedp.ListenBrowser(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *browser.EventDownloadWillBegin:
			if e.URL == href {
				guid = e.GUID
			}
		case *browser.EventDownloadProgress:
			if e.GUID == guid && e.State == browser.DownloadProgressStateCompleted {
				select {
				case done <- e.GUID:
				default:
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	events := true
	if _, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &events,
		BrowserContextID: chromedp.FromContext(tb.ctx).BrowserContextID,
	}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	tb.do(t, "save", chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(sel)+`).click()`))
	select {
	case g := <-done:
		b, err := os.ReadFile(filepath.Join(dir, g))
		if err != nil {
			t.Fatal(err)
		}
		return b
	case <-time.After(browserWait):
		t.Fatalf("%s: the download of %s did not complete", tb.name, sel)
	}
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func b64(b []byte) string {
	s, _ := json.Marshal(b) // base64, quoted
	return strings.Trim(string(s), `"`)
}
