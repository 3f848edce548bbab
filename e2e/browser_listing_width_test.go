//go:build unix

package e2e

import (
	"filehub/internal/harness"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserListingFits: the files' table fits its panel at every desktop
// width, also when the chips under a name say who has the file and that
// someone has a long name (32 characters, the most a name may have).
// Between 1101 and 1300 pixels a chip's 12rem made the table wider than
// its panel, which then scrolled sideways and cut Download and Zip off.
func TestBrowserListingFits(t *testing.T) {
	browserCtx := startBrowser(t)
	ts := harness.Start(t, browserFixtures(t))
	room := ts.URL + "/?room=fits"
	long := strings.Repeat("W", 32)
	sharer := harness.Dial(t, ts, "room=fits&name="+long)
	sharer.Send(map[string]any{"kind": "share", "path": "notes.md"})
	sharer.ReadKind("shared")
	tb := openTab(t, browserCtx, "desk", room+"&name=dana")
	keepOnFailure(t, tb)
	tb.waitFor(t, "the share's chips", statusOpen+` && document.querySelector(`+jsString(row("notes.md")+" .chip:not(.room)")+`)`)
	for _, width := range []int64{1101, 1180, 1280, 1300, 1301, 1440, 1920} {
		tb.do(t, "resize", chromedp.EmulateViewport(width, 900))
		got := eval[[]int](t, tb, `(() => { const w = document.querySelector('.tablewrap'); return [w.scrollWidth, w.clientWidth]; })()`)
		if got[0] > got[1] {
			t.Errorf("at %d px the table is %d px wide in a panel of %d: it scrolls sideways", width, got[0], got[1])
		}
	}
	tb.checkClean(t)
}
