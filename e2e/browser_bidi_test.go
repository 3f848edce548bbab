//go:build unix

package e2e

import (
	"filehub/internal/harness"
	"os"
	"path/filepath"
	"testing"
)

// TestBrowserBidiIsolated: a right-to-left override in what someone else
// wrote (a chat line, a snippet's title) stays inside that string. Left
// open, it reversed the page's own words and times after it on the line
// ("mallory said pay the exe.pdf 71:73:81"), so that a line said something
// else than what happened. File names cannot hold one at all: the server
// refuses them (files' hostile table), and the page never lists one.
func TestBrowserBidiIsolated(t *testing.T) {
	const rlo = "\u202e"
	browserCtx := startBrowser(t)
	dir := browserFixtures(t)
	name := "invoice" + rlo + "fdp.exe"
	if err := os.WriteFile(filepath.Join(dir, name), []byte("MZ"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := harness.Start(t, dir)
	ann := openTab(t, browserCtx, "ann", ts.URL+"/?room=bidi&name=ann")
	keepOnFailure(t, ann)
	ann.waitFor(t, "connected", statusOpen)
	mallory := harness.Dial(t, ts, "room=bidi&name=mallory")
	mallory.Send(map[string]any{"kind": "share", "path": name})
	if f := mallory.ReadKind("error"); f.Str("code") != "bad_request" {
		t.Fatalf("sharing a name with U+202E: %v, want bad_request", f)
	}
	mallory.Send(map[string]any{"kind": "chat", "text": "pay the " + rlo + "fdp.exe"})
	mallory.Send(map[string]any{"kind": "snippet", "title": rlo + "eltit", "text": "x"})
	ann.waitFor(t, "the chat and the snippet", `document.querySelectorAll('[data-testid=chat-message]').length === 2`)
	// Each line's time is drawn where it is written, after what came
	// before it, and reads as it should: the words of the page between
	// them with it.
	for _, c := range []struct{ what, line, user string }{
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
	// A file that appears with such a name is never listed nor announced:
	// a file that appears after it is, and it is not.
	if err := os.WriteFile(filepath.Join(dir, "b"+rlo+"txt.exe"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "after.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ann.waitFor(t, "after.txt listed", `!!document.querySelector(`+jsString(row("after.txt"))+`)`)
	if got := eval[string](t, ann, `[...document.querySelectorAll('#listing tr'), ...document.querySelectorAll('[data-testid=feed-note]')]
		.map(e => (e.dataset.name || '') + e.textContent).filter(s => s.includes('\u202e')).join(' | ')`); got != "" {
		t.Errorf("a name with U+202E is shown: %q", got)
	}
	shot(t, ann, "bidi")
	ann.checkClean(t)
}
