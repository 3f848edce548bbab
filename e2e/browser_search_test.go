package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"filehub/internal/harness"

	"github.com/chromedp/chromedp"
)

// TestBrowserSearchIndex searches from the page against the server's own
// index (no answer played by the test): a tree of files, one of them
// named with accents and capitals, found by typing it plain; the time
// from the click to the results shown is logged. FILEHUB_SEARCH_FILES
// sets how many files the tree has (default 2,000; BENCHMARKS.md used
// 100,000).
func TestBrowserSearchIndex(t *testing.T) {
	n := 2000
	if v := os.Getenv("FILEHUB_SEARCH_FILES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	browserCtx := startBrowser(t)
	dir := t.TempDir()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("folder-%03d", i/100), fmt.Sprintf("file-%06d.txt", i))
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "folder-007", "Quarterly Résumé.txt"), []byte("found me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := harness.Start(t, dir)
	tb := openTab(t, browserCtx, "searcher", "about:blank", chromedp.EmulateViewport(1280, 800))
	keepOnFailure(t, tb)
	tb.navigate(t, ts.URL+"/?room=search&name=sam")
	tb.waitFor(t, "the listing", statusOpen+` && document.querySelector(`+jsString(row("folder-000/"))+`)`)
	tb.do(t, "type quarterly resume", chromedp.SendKeys(chromedp.CSS(`[data-testid=filter]`), "quarterly resume"))
	tb.waitFor(t, "the offer to search all folders", `!document.querySelector('#search-offer').hidden`)
	began := time.Now()
	tb.do(t, "search", chromedp.Click(chromedp.CSS(`[data-testid=search-btn]`)))
	tb.waitFor(t, "the result", `document.querySelector('[data-testid=search-result][data-path="folder-007/Quarterly Résumé.txt"]')`)
	t.Logf("%d files: the result shown %v after the click", n+1, time.Since(began).Round(time.Millisecond))
	if got := eval[int](t, tb, `document.querySelectorAll('[data-testid=search-result]').length`); got != 1 {
		t.Errorf("%d results, want 1", got)
	}
	tb.checkClean(t)
}
