package e2e

// Browser tests of the file browser (issue 21): folders in the URL, one
// action per row and its menu, icons, thumbnails, the grid and the gallery,
// previews that run nothing, sort and filter, at a desktop's size and a
// phone's, light and dark. Helpers shared with the older browser tests
// (which reach a row's other actions through its menu) are here too.

import (
	"bytes"
	"context"
	"filehub/internal/harness"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// rowAction clicks the menu button of the row rowSel, then the item testid
// of its menu (view: over the live connection; open-http: over HTTP;
// share; download; copy-link; zip).
func rowAction(rowSel, testid string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Click(chromedp.CSS(rowSel + ` [data-testid=menu]`)),
		chromedp.Click(chromedp.CSS(rowSel + ` [data-testid=row-menu] [data-testid=` + testid + `]`)),
	}
}

// rowTap is rowAction with a finger.
func rowTap(rowSel, testid string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Tap(chromedp.CSS(rowSel + ` [data-testid=menu]`)),
		chromedp.Tap(chromedp.CSS(rowSel + ` [data-testid=row-menu] [data-testid=` + testid + `]`)),
	}
}

// menuClick is a script that opens the row's menu and clicks its item
// testid, without moving the pointer or scrolling.
func menuClick(rowSel, testid string) string {
	return `(() => { const r = document.querySelector(` + jsString(rowSel) + `); r.querySelector('[data-testid=menu]').click();
		r.querySelector('[data-testid=row-menu] [data-testid=` + testid + `]').click(); })()`
}

// menuAttr is a script that reads the attribute attr of the item testid of
// the row's menu (” when there is none), closing the menu again.
func menuAttr(rowSel, testid, attr string) string {
	return `(() => { const r = document.querySelector(` + jsString(rowSel) + `); const b = r.querySelector('[data-testid=menu]'); b.click();
		const v = r.querySelector('[data-testid=row-menu] [data-testid=` + testid + `]')?.getAttribute(` + jsString(attr) + `) ?? ''; b.click(); return v; })()`
}

// filesFixtures writes the served folder of the file browser's tests: a
// photo folder, nested folders, a PDF, a video, markdown and text (one too
// large to preview whole), hostile files, and enough files for a phone's
// screen.
func filesFixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		write(fmt.Sprintf("photos/img-%d.png", i+1), pngOf(t, 40+i*8, 30, uint8(i*40)))
	}
	write("photos/caption.txt", []byte("the trip\n"))
	write("docs/deeper/leaf.txt", []byte("leaf-marker\n"))
	write("docs/report.pdf", minimalPDF("HELLO PDF"))
	// HTML behind a .pdf name: the browser's PDF viewer gets it, never the page.
	write("docs/evil.pdf", []byte(`<html><body><script>localStorage.setItem('pwned-pdf', '1'); document.title = 'pwned'; alert('pdf')</script></body></html>`))
	clip, err := os.ReadFile(filepath.Join("..", "web", "testdata", "clip.webm"))
	if err != nil {
		t.Fatal(err)
	}
	write("docs/clip.webm", clip)
	write("README.md", []byte("# Welcome here\n\nSee [the docs](docs/) and **bold** text.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"+
		"<script>localStorage.setItem('pwned-md', '1'); alert('md')</script>\n\n<img src=x onerror=\"alert('img')\">\n\n"+
		"[click](javascript:alert('link')) <a href=\"#\" onclick=\"alert('click')\">x</a> <iframe src=\"/docs/evil.pdf\"></iframe>\n\n"+
		"<form action=\"/\"><input name=q></form> <style>body{display:none}</style> <p style=\"color:red\">styled</p>\n\n![remote](https://example.com/x.png)\n"))
	code := "package main\n\n"
	for i := 1; i <= 40; i++ {
		code += fmt.Sprintf("// line %d\n", i+2)
	}
	write("main.go", []byte(code))
	var big strings.Builder
	for big.Len() < 400<<10 {
		fmt.Fprintf(&big, "%08d a line of a long log\n", big.Len())
	}
	write("big.log", []byte(big.String()))
	write("archive.bin", make([]byte, 3<<20))
	for i := range 24 {
		write(fmt.Sprintf("list/n-%02d.txt", i), []byte(strings.Repeat("x", i*100+1)))
	}
	return dir
}

// pngOf is a w×h PNG of one shade.
func pngOf(t *testing.T, w, h int, shade uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{shade, 120, 255 - shade, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// minimalPDF is a one-page PDF that says text.
func minimalPDF(text string) []byte {
	stream := "BT /F1 36 Tf 30 90 Td (" + text + ") Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offs []int
	for i, o := range objs {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

// thumbServer plays the server's GET /_/thumb/PATH contract in the tab
// (a small JPEG; 404 when it cannot make one): img-1.png gets a JPEG,
// img-2.png a 404, img-3.png an answer held until release is closed (the
// listing must not wait for it), the others a JPEG.
func thumbServer(t *testing.T, tb *tab, release <-chan struct{}) {
	t.Helper()
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 64, 48)), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(tb.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		go func() {
			status, body := int64(200), jpg.Bytes()
			switch {
			case strings.Contains(e.Request.URL, "/img-2.png?"):
				status, body = 404, []byte("not an image")
			case strings.Contains(e.Request.URL, "/img-3.png?"):
				select {
				case <-release:
				case <-ctx.Done():
					return
				}
			}
			_, _ = chromedp.Call(tb.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID: e.RequestID, ResponseCode: status, Body: body,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "image/jpeg"}},
			})
		}()
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/_/thumb/*"}}}); err != nil {
		t.Fatal(err)
	}
}

// colorScheme emulates prefers-color-scheme in the tab.
func colorScheme(t *testing.T, tb *tab, scheme string) {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		t.Fatalf("%s: emulate %s: %v", tb.name, scheme, err)
	}
}

// lowContrast lists visible texts of the listing, its menu and the viewer
// whose contrast with the background behind them is under 4.5:1 (WCAG AA).
const lowContrast = `(() => {
	const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
	const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
	const bg = (e) => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3); } return [255, 255, 255]; };
	const out = [];
	for (const e of document.querySelectorAll('.listing .nm, .listing .sub, .listing td.num, .rowmenu .item, .toolbar select, .crumbs button, .viewer .meta span')) {
		if (e.getClientRects().length === 0) continue;
		const a = lum(rgb(getComputedStyle(e).color).slice(0, 3)), b = lum(bg(e));
		const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
		if (ratio < 4.5) out.push(e.className + ' "' + e.textContent.trim().slice(0, 20) + '" ' + ratio.toFixed(2));
	}
	return out.slice(0, 8);
})()`

// TestBrowserFiles walks the file browser as a person would, on a desktop
// (1280×800) and a phone (390×844), each in light and in dark: folders in
// the URL, one action per row, icons and thumbnails, the grid and the
// gallery, previews (PDF, video, markdown, text) that run nothing, sort,
// filter, and rows that arrive live.
func TestBrowserFiles(t *testing.T) {
	browserCtx := startBrowser(t)
	dir := filesFixtures(t)
	ts := harness.Start(t, dir, "-upload")
	for _, c := range []struct {
		name, scheme string
		phone        bool
	}{
		{"desk-light", "light", false},
		{"desk-dark", "dark", false},
		{"phone-light", "light", true},
		{"phone-dark", "dark", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			viewport := chromedp.EmulateViewport(1280, 800)
			if c.phone {
				viewport = phoneViewport
			}
			room := ts.URL + "/?room=" + c.name
			tb := openTab(t, browserCtx, c.name, "about:blank", viewport)
			colorScheme(t, tb, c.scheme)
			release := make(chan struct{})
			thumbServer(t, tb, release)
			tb.navigate(t, room+"&name="+c.name)
			keepOnFailure(t, tb)
			tb.waitFor(t, "connected, the listing", statusOpen+` && document.querySelector(`+jsString(row("README.md"))+`)`)
			files := &filesTab{t: t, tb: tb, phone: c.phone, room: room, ts: ts, dark: c.scheme == "dark"}
			// Each step starts where the one before ended: stop at the first that fails.
			_ = t.Run("FoldersInTheURL", files.foldersInTheURL) &&
				t.Run("OneActionPerRow", files.oneActionPerRow) &&
				t.Run("IconsThumbnailsGallery", func(t *testing.T) { files.t = t; files.iconsThumbnailsGallery(release) }) &&
				t.Run("Previews", files.previews) &&
				t.Run("SortFilterLive", files.sortFilterLive) &&
				t.Run("Looks", files.looks)
			tb.checkClean(t)
		})
	}
}

// filesTab is one tab of TestBrowserFiles and the steps it takes.
type filesTab struct {
	t     *testing.T
	tb    *tab
	ts    *harness.Server
	room  string
	phone bool
	dark  bool
}

// tap taps on a phone, clicks on a desktop.
func (f *filesTab) tap(sel string) chromedp.Action[chromedp.Void] {
	if f.phone {
		return chromedp.Tap(chromedp.CSS(sel))
	}
	return chromedp.Click(chromedp.CSS(sel))
}

func (f *filesTab) listed(t *testing.T, dir, name string) {
	t.Helper()
	f.tb.waitFor(t, dir+" listed", `document.querySelector(`+jsString(row(dir+name))+`) && new URLSearchParams(location.search).get('dir') === `+jsString(dir)+
		` && document.querySelector('[data-testid=crumbs] [aria-current]')?.textContent === `+jsString(strings.TrimSuffix(path.Base("/"+dir), "/")))
}

func (f *filesTab) foldersInTheURL(t *testing.T) {
	tb := f.tb
	// From far down a long folder, a folder opens at its top, its path in view.
	tb.do(t, "open list/", f.tap(row("list/")+` [data-testid=open]`))
	f.listed(t, "list/", "n-23.txt")
	tb.do(t, "to the bottom", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.documentElement.scrollHeight)`))
	tb.do(t, "up one folder", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=up] button').click()`))
	tb.waitFor(t, "the top folder from its top", `document.querySelector(`+jsString(row("docs/"))+`) && !new URLSearchParams(location.search).has('dir') && `+inView(`[data-testid=crumbs]`))
	tb.do(t, "open docs/", f.tap(row("docs/")+` [data-testid=open]`))
	f.listed(t, "docs/", "report.pdf")
	tb.do(t, "open docs/deeper/", f.tap(row("docs/deeper/")+` [data-testid=open]`))
	f.listed(t, "docs/deeper/", "leaf.txt")
	tb.waitFor(t, "its path in view", inView(`[data-testid=crumbs]`))
	// Back and Forward move between folders; the room stays.
	tb.do(t, "back", chromedp.Evaluate[chromedp.Void](`history.back()`))
	f.listed(t, "docs/", "report.pdf")
	tb.do(t, "back", chromedp.Evaluate[chromedp.Void](`history.back()`))
	tb.waitFor(t, "the top folder", `document.querySelector(`+jsString(row("docs/"))+`) && !new URLSearchParams(location.search).has('dir')`)
	tb.do(t, "forward", chromedp.Evaluate[chromedp.Void](`history.forward()`))
	f.listed(t, "docs/", "report.pdf")
	if got := eval[string](t, tb, `new URLSearchParams(location.search).get('room')`); !strings.HasSuffix(f.room, "="+got) {
		t.Errorf("room in the URL = %q", got)
	}
	// Reload stays; the link of a folder (from its menu) opens it.
	tb.navigate(t, eval[string](t, tb, `location.href`))
	f.listed(t, "docs/", "report.pdf")
	tb.do(t, "up", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=crumbs] li:first-child button').click()`))
	tb.waitFor(t, "the top folder", `document.querySelector(`+jsString(row("docs/"))+`) && !new URLSearchParams(location.search).has('dir')`)
	link := eval[string](t, tb, `(() => { const r = document.querySelector(`+jsString(row("docs/"))+`); r.querySelector('[data-testid=menu]').click();
		const b = document.querySelector('[data-testid=row-menu] [data-testid=copy-link]');
		navigator.clipboard.writeText = (s) => { window.__copied = s; return Promise.resolve(); }; b.click(); return window.__copied || ''; })()`)
	if want := f.room + "&dir=docs/"; !strings.HasPrefix(link, f.ts.URL+"/?") || !strings.Contains(link, "dir=docs/") || !strings.Contains(link, "room=") || strings.Contains(link, "name=") {
		t.Fatalf("the folder's link = %q, want like %q (without the person's name)", link, want)
	}
	// Someone new to the room: asked their name, the folder behind.
	tb.do(t, "forget the name", chromedp.Evaluate[chromedp.Void](`localStorage.removeItem('filehub.name')`))
	tb.navigate(t, link)
	f.listed(t, "docs/", "report.pdf")
	tb.waitFor(t, "asked for a name", `document.querySelector('#join').open`)
	tb.navigate(t, link+"&name="+tb.name)
	f.listed(t, "docs/", "report.pdf")
	tb.waitFor(t, "joined", statusOpen)
	tb.do(t, "home", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=crumbs] li:first-child button').click()`))
	tb.waitFor(t, "the top folder", `document.querySelector(`+jsString(row("README.md"))+`)`)
}

func (f *filesTab) oneActionPerRow(t *testing.T) {
	tb := f.tb
	// A row shows its name (which opens it) and one button for the rest.
	if got := eval[[]string](t, tb, `[...document.querySelectorAll('[data-testid=entry]')].filter((r) =>
		r.querySelectorAll('button, a').length !== 2 || !r.querySelector('[data-testid=open]') || !r.querySelector('[data-testid=menu]')).map((r) => r.dataset.path)`); len(got) > 0 {
		t.Errorf("rows with other than a name and a menu button: %q", got)
	}
	tb.do(t, "open README.md's menu", f.tap(row("README.md")+` [data-testid=menu]`))
	tb.waitFor(t, "the menu, focused", `document.activeElement?.closest('[data-testid=row-menu]') && document.querySelector(`+jsString(row("README.md")+` [data-testid=menu]`)+`).getAttribute('aria-expanded') === 'true'`)
	got := eval[[]string](t, tb, `[...document.querySelectorAll('[data-testid=row-menu] [role=menuitem]')].map((e) => e.dataset.testid)`)
	if want := []string{"share", "download", "copy-link", "view", "open-http"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("menu items %q, want %q", got, want)
	}
	if href := eval[string](t, tb, `document.querySelector('[data-testid=row-menu] [data-testid=download]').getAttribute('href')`); href != "/README.md?download" {
		t.Errorf("download link %q: want the plain HTTP download", href)
	}
	if f.phone {
		tb.waitFor(t, "the menu as a sheet on screen", inView(`[data-testid=row-menu]`))
		if small := eval[[]string](t, tb, smallTargets); len(small) > 0 {
			t.Errorf("menu: controls smaller than 40×40: %q", small)
		}
	}
	tb.do(t, "arrow down, Escape", chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Escape))
	tb.waitFor(t, "closed, the focus back on its button", `!document.querySelector('[data-testid=row-menu]') && document.activeElement === document.querySelector(`+jsString(row("README.md")+` [data-testid=menu]`)+`)`)
	// The request-a-path form stays, below the files, not at their top.
	if !eval[bool](t, tb, `document.querySelector('[data-testid=get-form]').getBoundingClientRect().top > document.querySelector('[data-testid=listing]').getBoundingClientRect().top &&
		(document.querySelector('[data-testid=listing]').compareDocumentPosition(document.querySelector('[data-testid=get-form]')) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0`) {
		t.Error("the request-a-path form comes before the listing")
	}
	if f.phone {
		// Compact rows: at least 10 files on a 390×844 screen.
		tb.do(t, "open list/", f.tap(row("list/")+` [data-testid=open]`))
		f.listed(t, "list/", "n-23.txt")
		n := eval[int](t, tb, `(() => { const rows = [...document.querySelectorAll('[data-testid=entry]')];
			window.scrollTo(0, rows[0].getBoundingClientRect().top + window.scrollY);
			const bar = document.querySelector('[data-testid=tabbar]').getBoundingClientRect().top;
			return rows.filter((r) => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= bar; }).length })()`)
		if n < 10 {
			t.Errorf("%d files on one phone screen, want at least 10", n)
		}
		if small := eval[[]string](t, tb, smallTargets); len(small) > 0 {
			t.Errorf("listing: controls smaller than 40×40: %q", small)
		}
		tb.do(t, "back", chromedp.Evaluate[chromedp.Void](`history.back()`))
		tb.waitFor(t, "the top folder", `document.querySelector(`+jsString(row("README.md"))+`)`)
	}
}

func (f *filesTab) iconsThumbnailsGallery(release chan struct{}) {
	t, tb := f.t, f.tb
	// A type icon on every row, short types instead of MIME strings.
	if got := eval[[]string](t, tb, `[...document.querySelectorAll('[data-testid=entry]')].filter((r) => !r.querySelector('.ico svg.icon[data-icon]')).map((r) => r.dataset.path)`); len(got) > 0 {
		t.Errorf("rows without an icon: %q", got)
	}
	for name, want := range map[string]string{"README.md": "Markdown", "main.go": "Go", "big.log": "Log", "archive.bin": "Binary", "photos/": "Folder"} {
		if got := eval[string](t, tb, `document.querySelector(`+jsString(row(name)+` .sub`)+`).textContent`); !strings.HasPrefix(got, want+" · ") {
			t.Errorf("%s: %q, want %q first", name, got, want)
		}
	}
	// A folder of pictures: a grid of thumbnails, shown before they come.
	tb.do(t, "open photos/", f.tap(row("photos/")+` [data-testid=open]`))
	f.listed(t, "photos/", "img-6.png")
	tb.waitFor(t, "a grid, thumbnails as they come", `document.querySelector('[data-testid=listing]').dataset.view === 'grid' &&
		document.querySelector(`+jsString(row("photos/img-1.png")+` .ico`)+`).dataset.thumb === 'ok' &&
		document.querySelector(`+jsString(row("photos/img-1.png")+` img.thumb`)+`).naturalWidth === 64 &&
		document.querySelector(`+jsString(row("photos/img-2.png")+` .ico`)+`).dataset.thumb === 'none' &&
		!document.querySelector(`+jsString(row("photos/img-2.png")+` img`)+`) &&
		getComputedStyle(document.querySelector(`+jsString(row("photos/img-2.png")+` svg.icon`)+`)).visibility === 'visible' &&
		!document.querySelector(`+jsString(row("photos/img-3.png")+` .ico`)+`).dataset.thumb`)
	close(release)
	tb.waitFor(t, "the held thumbnail", `document.querySelector(`+jsString(row("photos/img-3.png")+` .ico`)+`).dataset.thumb === 'ok'`)
	if got := eval[string](t, tb, `document.querySelector(`+jsString(row("photos/caption.txt")+` .ico`)+`).dataset.thumb ?? 'no thumbnail asked'`); got != "no thumbnail asked" {
		t.Errorf("a text file's thumbnail: %q", got)
	}
	// The list, and back to the grid, by choice.
	tb.do(t, "as a list", f.tap(`[data-testid=view-list]`))
	tb.waitFor(t, "a list", `document.querySelector('[data-testid=listing]').dataset.view === 'list'`)
	tb.do(t, "as a grid", f.tap(`[data-testid=view-grid]`))
	tb.waitFor(t, "a grid", `document.querySelector('[data-testid=listing]').dataset.view === 'grid'`)
	// The gallery: next and previous by arrow keys (and by swipe on a phone).
	viewerAt := func(p string) string {
		return `document.querySelector('[data-testid=viewer]').dataset.path === ` + jsString(p) + ` && document.querySelector('[data-testid=viewer]').dataset.state === 'shown' &&
			document.querySelector('[data-testid=content-image]')?.complete && document.querySelector('[data-testid=content-image]').naturalWidth > 0`
	}
	tb.do(t, "open img-2.png", f.tap(row("photos/img-2.png")+` [data-testid=open]`))
	tb.waitFor(t, "img-2.png shown", viewerAt("photos/img-2.png")+` && document.querySelector('[data-testid=viewer-count]').textContent === '2 / 6'`)
	tb.do(t, "→", chromedp.KeyEvent(kb.ArrowRight))
	tb.waitFor(t, "img-3.png", viewerAt("photos/img-3.png"))
	tb.do(t, "←, ←", chromedp.KeyEvent(kb.ArrowLeft), chromedp.KeyEvent(kb.ArrowLeft))
	tb.waitFor(t, "img-1.png", viewerAt("photos/img-1.png"))
	tb.do(t, "←, round the start", chromedp.KeyEvent(kb.ArrowLeft))
	tb.waitFor(t, "img-6.png", viewerAt("photos/img-6.png"))
	if f.phone {
		swipe := func(from, to float64) chromedp.Action[chromedp.Void] {
			y := eval[float64](t, tb, `(() => { const r = document.querySelector('[data-testid=content-image]').getBoundingClientRect(); return r.top + r.height / 2 })()`)
			return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				// A finger that moves, then rests before it lifts (timed so, in
				// seconds): no fling left running to swallow the next tap.
				t0 := float64(time.Now().UnixMilli())/1000 - 1
				for _, step := range []struct {
					typ input.DispatchTouchEventType
					at  float64 // of the way from from to to
					dt  float64
				}{
					{input.DispatchTouchEventTypeTouchStart, 0, 0},
					{input.DispatchTouchEventTypeTouchMove, .5, .05},
					{input.DispatchTouchEventTypeTouchMove, 1, .1},
					{input.DispatchTouchEventTypeTouchMove, 1, .4},
					{input.DispatchTouchEventTypeTouchEnd, 1, .45},
				} {
					pts := []*input.TouchPoint{{X: from + (to-from)*step.at, Y: y}}
					if step.typ == input.DispatchTouchEventTypeTouchEnd {
						pts = []*input.TouchPoint{}
					}
					if _, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: step.typ, TouchPoints: pts, Timestamp: input.TimeSinceEpoch(t0 + step.dt)}); err != nil {
						return err
					}
				}
				return nil
			})
		}
		tb.do(t, "swipe left", swipe(320, 60))
		tb.waitFor(t, "the next, round the end", viewerAt("photos/img-1.png"))
		tb.do(t, "swipe right", swipe(60, 320))
		tb.waitFor(t, "the previous", viewerAt("photos/img-6.png"))
		if !eval[bool](t, tb, noOverflow) {
			t.Error("the gallery scrolls sideways")
		}
		tb.do(t, "close", chromedp.Tap(chromedp.CSS(`[data-testid=viewer-close]`)))
	} else {
		tb.do(t, "close", chromedp.Click(chromedp.CSS(`[data-testid=viewer-close]`)))
	}
	tb.waitFor(t, "closed", `!document.querySelector('[data-testid=viewer-panel]').hasAttribute('data-open')`)
	tb.do(t, "home", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=crumbs] li:first-child button').click()`))
	tb.waitFor(t, "the top folder", `document.querySelector(`+jsString(row("README.md"))+`)`)
}

func (f *filesTab) previews(t *testing.T) {
	tb := f.tb
	shown := func(p, kind string) string {
		return `document.querySelector('[data-testid=viewer]').dataset.path === ` + jsString(p) + ` && document.querySelector('[data-testid=viewer]').dataset.state === 'shown' &&
			document.querySelector('[data-testid=viewer]').dataset.kind === ` + jsString(kind)
	}
	closeViewer := func() {
		t.Helper()
		tb.do(t, "close", f.tap(`[data-testid=viewer-close]`))
		tb.waitFor(t, "closed", `!document.querySelector('[data-testid=viewer-panel]').hasAttribute('data-open')`)
	}
	// Markdown: rendered, sanitized, links made safe.
	tb.do(t, "open README.md", f.tap(row("README.md")+` [data-testid=open]`))
	tb.waitFor(t, "README.md rendered", shown("README.md", "markdown")+` && document.querySelector('[data-testid=content] h1')?.textContent === 'Welcome here' &&
		document.querySelector('[data-testid=content] table td')?.textContent === '1' &&
		document.querySelector('[data-testid=content]').textContent.includes("<script>localStorage.setItem('pwned-md'")`) // raw HTML, as text
	if got := eval[[]string](t, tb, `(() => { const c = document.querySelector('[data-testid=content]'); const bad = [];
		for (const e of c.querySelectorAll('*')) { if (/^(SCRIPT|STYLE|IFRAME|FORM|INPUT|OBJECT|EMBED)$/.test(e.tagName)) bad.push(e.tagName);
			for (const a of e.attributes) if (/^on|^style$/i.test(a.name) || /^\s*javascript:/i.test(a.value)) bad.push(e.tagName + '[' + a.name + ']'); }
		for (const a of c.querySelectorAll('a[href]')) if (a.target === '_blank' && !a.relList.contains('noopener')) bad.push('opener');
		for (const i of c.querySelectorAll('img')) if (!i.src.startsWith(location.origin)) bad.push('img ' + i.src);
		return bad })()`); len(got) > 0 {
		t.Errorf("the rendered markdown holds %q", got)
	}
	if got := eval[string](t, tb, `document.querySelector('[data-testid=content] a[href$="/docs/"]')?.href ?? ''`); got != f.ts.URL+"/docs/" {
		t.Errorf("the markdown's relative link resolves to %q", got)
	}
	closeViewer()
	// Code: with line numbers, counted.
	tb.do(t, "open main.go", f.tap(row("main.go")+` [data-testid=open]`))
	tb.waitFor(t, "main.go numbered", shown("main.go", "text")+` && document.querySelectorAll('[data-testid=content].numbered .l').length === 42 &&
		document.querySelector('[data-testid=line-count]').textContent === '42 lines'`)
	closeViewer()
	// A large text: its first 256 KiB only, by a range request.
	tb.do(t, "open big.log", f.tap(row("big.log")+` [data-testid=open]`))
	tb.waitFor(t, "big.log's start", shown("big.log", "text")+` && document.querySelector('[data-testid=partial]')?.textContent.includes('The first 256.0 KiB of')`)
	if got := eval[float64](t, tb, `Math.max(...performance.getEntriesByName(location.origin + '/big.log').map((e) => e.encodedBodySize))`); got > 256<<10 || got <= 0 {
		t.Errorf("the preview of big.log read %.0f bytes, want at most 256 KiB", got)
	}
	closeViewer()
	// PDF: the browser's own viewer, in a frame of the sandboxed file.
	tb.do(t, "open docs/", f.tap(row("docs/")+` [data-testid=open]`))
	f.listed(t, "docs/", "report.pdf")
	tb.do(t, "open report.pdf", f.tap(row("docs/report.pdf")+` [data-testid=open]`))
	tb.waitFor(t, "report.pdf in a frame", shown("docs/report.pdf", "pdf")+` && document.querySelector('[data-testid=content-pdf]').getAttribute('src') === '/docs/report.pdf'`)
	f.waitPDFViewer(t, "/docs/report.pdf")
	if f.phone {
		tb.waitFor(t, "the PDF on screen", `(() => { const r = document.querySelector('[data-testid=content-pdf]').getBoundingClientRect();
			return r.top >= 0 && r.top < window.innerHeight / 3 && r.height > window.innerHeight / 2 && r.width >= window.innerWidth - 40 })()`)
	}
	// Video: the media element on the URL; it seeks (ranges), it never
	// fetched the file first.
	tb.do(t, "open clip.webm", chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(row("docs/clip.webm")+` [data-testid=open]`)+`).click()`))
	tb.waitFor(t, "clip.webm", shown("docs/clip.webm", "video")+` && document.querySelector('[data-testid=content-media]').readyState >= 1 &&
		document.querySelector('[data-testid=content-media]').duration > 5`)
	tb.do(t, "seek", chromedp.Evaluate[chromedp.Void](`(() => { const v = document.querySelector('[data-testid=content-media]');
		v.addEventListener('seeked', () => { v.dataset.seeked = String(v.currentTime) }, { once: true }); v.currentTime = 4.5 })()`))
	tb.waitFor(t, "seeked to 4.5 s", `Number(document.querySelector('[data-testid=content-media]').dataset.seeked) > 4`)
	// HTML served as a PDF: the PDF viewer gets it, the page runs nothing.
	tb.do(t, "open evil.pdf", chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(row("docs/evil.pdf")+` [data-testid=open]`)+`).click()`))
	tb.waitFor(t, "evil.pdf in a frame", shown("docs/evil.pdf", "pdf"))
	f.waitPDFViewer(t, "/docs/evil.pdf")
	if got := eval[[]string](t, tb, `Object.keys(localStorage).filter((k) => k.startsWith('pwned'))`); len(got) > 0 || strings.HasPrefix(eval[string](t, tb, `document.title`), "pwned") {
		t.Errorf("an uploaded file's script ran in the page: %q", got)
	}
	closeViewer()
	tb.do(t, "home", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=crumbs] li:first-child button').click()`))
	tb.waitFor(t, "the top folder", `document.querySelector(`+jsString(row("README.md"))+`)`)
	// A file with nothing to show is downloaded by the browser, over HTTP.
	if got := eval[string](t, tb, `document.querySelector(`+jsString(row("archive.bin"))+`).dataset.preview`); got != "none" {
		t.Errorf("archive.bin's preview %q, want none (a download)", got)
	}
}

// waitPDFViewer waits for the browser's PDF viewer to load in a frame of
// the tab's page for the served file at url (a path).
func (f *filesTab) waitPDFViewer(t *testing.T, url string) {
	t.Helper()
	ctxID := chromedp.FromContext(f.tb.ctx).BrowserContextID
	deadline := time.Now().Add(browserWait)
	for {
		targets, err := chromedp.Targets(f.tb.ctx)
		if err != nil {
			t.Fatal(err)
		}
		frame, viewer := false, false
		for _, tg := range targets {
			if tg.BrowserContextID != ctxID || tg.Type != "iframe" {
				continue
			}
			frame = frame || strings.HasSuffix(tg.URL, url)
			viewer = viewer || strings.HasPrefix(tg.URL, "chrome-extension://")
		}
		if frame && viewer {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the PDF viewer did not load %s (frame %v, viewer %v)", f.tb.name, url, frame, viewer)
		}
		time.Sleep(50 * time.Millisecond) // polling the browser's targets: no event says "the PDF viewer is up"
	}
}

func (f *filesTab) sortFilterLive(t *testing.T) {
	tb := f.tb
	tb.do(t, "open list/", f.tap(row("list/")+` [data-testid=open]`))
	f.listed(t, "list/", "n-23.txt")
	files := `[...document.querySelectorAll('[data-testid=entry]:not([hidden])')].map((r) => r.dataset.name)`
	setSort := func(v string) {
		t.Helper()
		tb.do(t, "sort "+v, chromedp.SetValue(chromedp.CSS(`[data-testid=sort]`), v),
			chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=sort]').dispatchEvent(new Event('change'))`))
	}
	setSort("size-desc")
	tb.waitFor(t, "largest first", files+`[0] === 'n-23.txt' && `+files+`[23] === 'n-00.txt'`)
	setSort("name-asc")
	tb.waitFor(t, "by name", files+`[0] === 'n-00.txt'`)
	tb.do(t, "filter 2", chromedp.SendKeys(chromedp.CSS(`[data-testid=filter]`), "N-2"))
	tb.waitFor(t, "only n-2x", files+`.join() === 'n-20.txt,n-21.txt,n-22.txt,n-23.txt' && document.querySelector('#listing-state').textContent === '4 of 24 entries match'`)
	// The server searches the tree (GET /_/search): with something typed,
	// the page offers to search all folders.
	tb.waitFor(t, "the offer to search all folders", `!document.querySelector('#search-offer').hidden`)
	// A file that arrives live reads as the others do.
	livePath := filepath.Join(f.ts.Dir, "list", "n-2-live-"+f.tb.name+".pdf")
	if err := os.WriteFile(livePath, minimalPDF("LIVE"), 0o644); err != nil {
		t.Fatal(err)
	}
	live := row("list/n-2-live-" + f.tb.name + ".pdf")
	tb.waitFor(t, "the live row, as the others", `document.querySelector(`+jsString(live)+`) && !document.querySelector(`+jsString(live)+`).hidden &&
		document.querySelector(`+jsString(live+` .sub`)+`).textContent.startsWith('PDF · ') &&
		document.querySelector(`+jsString(live+` svg.icon`)+`).dataset.icon === 'pdf' && document.querySelector(`+jsString(live+` td.num`)+`).textContent.endsWith('B')`)
	tb.do(t, "clear the filter", chromedp.Evaluate[chromedp.Void](`(() => { const i = document.querySelector('[data-testid=filter]'); i.value = ''; i.dispatchEvent(new Event('input')) })()`))
	tb.waitFor(t, "all again", files+`.length === 25`)
	if err := os.Remove(livePath); err != nil {
		t.Fatal(err)
	}
	tb.waitFor(t, "the live row gone", `!document.querySelector(`+jsString(live)+`)`)
	tb.do(t, "home", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=crumbs] li:first-child button').click()`))
	tb.waitFor(t, "the top folder", `document.querySelector(`+jsString(row("README.md"))+`)`)
}

func (f *filesTab) looks(t *testing.T) {
	tb := f.tb
	dark := eval[bool](t, tb, `(() => { const c = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number); return c[0] + c[1] + c[2] < 200 })()`)
	if dark != f.dark {
		t.Errorf("dark background %v, want %v", dark, f.dark)
	}
	tb.do(t, "open a menu", chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(row("main.go")+` [data-testid=menu]`)+`).click()`))
	if low := eval[[]string](t, tb, lowContrast); len(low) > 0 {
		t.Errorf("text under 4.5:1 contrast: %q", low)
	}
	tb.do(t, "close it", chromedp.KeyEvent(kb.Escape))
	if !eval[bool](t, tb, noOverflow) {
		t.Error("the page scrolls sideways")
	}
}

// TestBrowserSearch plays the server's GET /_/search (issue 22's contract:
// {q, total, results: [{path, name, dir, size, modified, type}]}) in the
// tab: the page offers to search all folders once the endpoint answers,
// lists what it finds, and opens a result's folder, and the file in the
// viewer.
func TestBrowserSearch(t *testing.T) {
	browserCtx := startBrowser(t)
	dir := filesFixtures(t)
	ts := harness.Start(t, dir)
	tb := openTab(t, browserCtx, "searcher", "about:blank", chromedp.EmulateViewport(1280, 800))
	keepOnFailure(t, tb)
	answer := []byte(`{"q":"leaf","path":"","total":1,"results":[{"path":"docs/deeper/leaf.txt","name":"leaf.txt","dir":false,"size":12,` +
		`"modified":"2026-12-07T07:00:00Z","type":"text/plain; charset=utf-8","match":"name"}]}`)
	ctx, cancel := context.WithCancel(tb.ctx)
	defer cancel()
	var mu sync.Mutex
	var asked []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			mu.Lock()
			asked = append(asked, e.Request.URL)
			mu.Unlock()
			go func() {
				_, _ = chromedp.Call(tb.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
					RequestID: e.RequestID, ResponseCode: 200, Body: answer,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}},
				})
			}()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/_/search?*"}}}); err != nil {
		t.Fatal(err)
	}
	tb.navigate(t, ts.URL+"/?room=search&name=sam")
	tb.waitFor(t, "the listing", statusOpen+` && document.querySelector(`+jsString(row("README.md"))+`)`)
	if eval[bool](t, tb, `!document.querySelector('#search-offer').hidden`) {
		t.Error("search offered before anything was typed")
	}
	tb.do(t, "type leaf", chromedp.SendKeys(chromedp.CSS(`[data-testid=filter]`), "leaf"))
	tb.waitFor(t, "nothing here matches; the offer to search all folders", `document.querySelectorAll('[data-testid=entry]:not([hidden])').length === 0 && !document.querySelector('#search-offer').hidden`)
	tb.do(t, "search", chromedp.Click(chromedp.CSS(`[data-testid=search-btn]`)))
	tb.waitFor(t, "the result", `document.querySelector('[data-testid=search-result][data-path="docs/deeper/leaf.txt"] .sub')?.textContent === 'Text · 12 B'`)
	mu.Lock()
	last := asked[len(asked)-1]
	mu.Unlock()
	if !strings.HasSuffix(last, "/_/search?q=leaf") {
		t.Errorf("the page asked %s", last)
	}
	tb.do(t, "open it", chromedp.Click(chromedp.CSS(`[data-testid=search-result] button`)))
	tb.waitFor(t, "its folder, and the file in the viewer", `new URLSearchParams(location.search).get('dir') === 'docs/deeper/' &&
		document.querySelector(`+jsString(row("docs/deeper/leaf.txt"))+`) && document.querySelector('[data-testid=search-results]').hidden &&
		document.querySelector('[data-testid=viewer]').dataset.path === 'docs/deeper/leaf.txt' &&
		document.querySelector('[data-testid=viewer] [data-testid=content]')?.textContent.includes('leaf-marker')`)
	tb.checkClean(t)
}

// TestBrowserThumbnails opens a folder of pictures against the server's
// own GET /_/thumb: every picture's tile shows its thumbnail, decoded, and
// nothing else asks for one.
func TestBrowserThumbnails(t *testing.T) {
	browserCtx := startBrowser(t)
	dir := filesFixtures(t)
	ts := harness.Start(t, dir, "-thumb-cache", t.TempDir())
	tb := openTab(t, browserCtx, "thumbs", ts.URL+"/?room=thumbs&name=tess&dir=photos/", phoneViewport)
	keepOnFailure(t, tb)
	tb.waitFor(t, "a grid of thumbnails", statusOpen+` && document.querySelector('[data-testid=listing]').dataset.view === 'grid' &&
		[1, 2, 3, 4, 5, 6].every((i) => { const ico = document.querySelector('tr[data-path="photos/img-' + i + '.png"] .ico');
			const img = ico?.querySelector('img.thumb'); return ico?.dataset.thumb === 'ok' && img.complete && img.naturalWidth > 0 })`)
	// A picture that changes shows its new thumbnail, not the one the
	// browser may keep for a few minutes.
	if err := os.WriteFile(filepath.Join(dir, "photos", "img-1.png"), pngOf(t, 90, 20, 200), 0o644); err != nil {
		t.Fatal(err)
	}
	tb.waitFor(t, "the new thumbnail", `(() => { const img = document.querySelector('tr[data-path="photos/img-1.png"] img.thumb');
		return img?.complete && img.naturalWidth / img.naturalHeight > 4 })()`)
	if got := eval[[]string](t, tb, `performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).filter((p) => p.startsWith('/_/thumb/') && !p.endsWith('.png'))`); len(got) > 0 {
		t.Errorf("thumbnails asked of files that are not pictures: %q", got)
	}
	if !eval[bool](t, tb, noOverflow) {
		t.Error("the grid scrolls sideways")
	}
	tb.checkClean(t)
}
