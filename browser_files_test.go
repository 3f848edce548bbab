package main

// Browser tests of the file browser (issue 21): folders in the URL, one
// action per row and its menu, icons, thumbnails, the grid and the gallery,
// previews that run nothing, sort and filter, at a desktop's size and a
// phone's, light and dark. Helpers shared with the older browser tests
// (which reach a row's other actions through its menu) are here too.

import (
	"github.com/chromedp/chromedp"
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
