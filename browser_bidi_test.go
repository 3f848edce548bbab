//go:build unix

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserBidiIsolated: a right-to-left override in what someone else
// wrote (a file's name, a chat line, a snippet's title) stays inside that
// string. Left open, it reversed the page's own words and times after it
// on the line ("mallory shared invoice htiw exe.pdf 71:73:81 · moor eht"),
// so that a line said something else than what happened.
func TestBrowserBidiIsolated(t *testing.T) {
	const rlo = "\u202e"
	browserCtx := startBrowser(t)
	dir := browserFixtures(t)
	name := "invoice" + rlo + "fdp.exe"
	if err := os.WriteFile(filepath.Join(dir, name), []byte("MZ"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, dir)
	ann := openTab(t, browserCtx, "ann", ts.URL+"/?room=bidi&name=ann")
	keepOnFailure(t, ann)
	ann.waitFor(t, "connected", statusOpen)
	mallory := dial(t, ts, "room=bidi&name=mallory")
	mallory.send(map[string]any{"kind": "share", "path": name})
	mallory.send(map[string]any{"kind": "chat", "text": "pay the " + rlo + "fdp.exe"})
	mallory.send(map[string]any{"kind": "snippet", "title": rlo + "eltit", "text": "x"})
	ann.waitFor(t, "the share, the chat and the snippet",
		`document.querySelector('[data-testid=feed-entry][data-action=share]') && document.querySelectorAll('[data-testid=chat-message]').length === 2`)
	// Each line's time is drawn where it is written, after what came
	// before it, and reads as it should: the words of the page between
	// them with it.
	for _, c := range []struct{ what, line, user string }{
		{"the feed's share", `document.querySelector('[data-testid=feed-entry][data-action=share]')`, `a`},
		{"the chat line", `document.querySelectorAll('[data-testid=chat-message]')[0]`, `.text`},
		{"the snippet", `document.querySelectorAll('[data-testid=chat-message]')[1]`, `.title`},
	} {
		got := eval[string](t, ann, `(() => {
			const li = `+c.line+`, user = li.querySelector(`+jsString(c.user)+`), at = li.querySelector('time');
			const u = user.getBoundingClientRect(), a = at.getBoundingClientRect();
			if (Math.abs(u.top - a.top) < 2 && a.left < u.right - 1) return 'the time is drawn inside or before the user string';
			const r = document.createRange();
			r.selectNodeContents(at);
			const digits = [...at.textContent].filter(ch => ch >= '0' && ch <= '9');
			// The time's first digit is drawn left of its last one.
			r.setStart(at.firstChild, at.textContent.indexOf(digits[0]));
			r.setEnd(at.firstChild, at.textContent.indexOf(digits[0]) + 1);
			const first = r.getBoundingClientRect().left;
			r.setStart(at.firstChild, at.textContent.lastIndexOf(digits.at(-1)));
			r.setEnd(at.firstChild, at.textContent.lastIndexOf(digits.at(-1)) + 1);
			return first < r.getBoundingClientRect().left ? 'ok' : 'the time is drawn right to left';
		})()`)
		if got != "ok" {
			t.Errorf("%s: %s", c.what, got)
		}
	}
	// A sentence of the page's that holds such a name: the feed's note of
	// a file that appeared in the folder.
	if err := os.WriteFile(filepath.Join(dir, "b"+rlo+"txt.exe"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	note := `document.querySelector('[data-testid=feed-note][data-kind=appeared] .text')`
	ann.waitFor(t, "the note", note+`?.textContent.endsWith(' appeared')`)
	if got := eval[bool](t, ann, `(() => {
		const n = `+note+`.firstChild, i = n.textContent.lastIndexOf('appeared'), r = document.createRange();
		r.setStart(n, i); r.setEnd(n, i + 1);
		const a = r.getBoundingClientRect().left;
		r.setStart(n, i + 7); r.setEnd(n, i + 8);
		return a < r.getBoundingClientRect().left;
	})()`); !got {
		t.Errorf("the note's own words are drawn right to left: %q", eval[string](t, ann, note+`.textContent`))
	}
	// And the viewer's word on a file too large to show, which names it.
	big := "big" + rlo + "nib.dat"
	if err := os.WriteFile(filepath.Join(dir, big), make([]byte, 9<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	ann.waitFor(t, "the big file listed", `!!document.querySelector(`+jsString(row(big))+`)`)
	ann.do(t, "open it", chromedp.Click(chromedp.CSS(row(big)+` td.name button`)))
	hint := `document.querySelector('[data-testid=no-preview]')`
	ann.waitFor(t, "too large to show", hint+`?.textContent.endsWith('too large to show here.')`)
	if got := eval[bool](t, ann, `(() => {
		const n = `+hint+`.firstChild, i = n.textContent.lastIndexOf('large'), r = document.createRange();
		r.setStart(n, i); r.setEnd(n, i + 1);
		const a = r.getBoundingClientRect().left;
		r.setStart(n, i + 4); r.setEnd(n, i + 5);
		return a < r.getBoundingClientRect().left;
	})()`); !got {
		t.Errorf("the viewer's own words are drawn right to left: %q", eval[string](t, ann, hint+`.textContent`))
	}
	shot(t, ann, "bidi")
	ann.checkClean(t)
}
