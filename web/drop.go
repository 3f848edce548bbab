package web

import (
	_ "embed"
	"net/http"
	"strconv"
)

// dropPage is a drop link's upload page: one HTML file, with no data in it
// (its script reads the link's id from its own URL and asks the server for
// the link's label and limits), so that nothing a link's owner typed is
// ever part of the markup.
//
//go:embed drop.html
var dropPage []byte

// DropPage writes the upload page of a drop link with status: 200 for a
// live link; 404 or 410 for one that is not, which the page's script
// explains. It carries the page's Content-Security-Policy, no referrer (the
// link's id is in the URL, and is the key to it) and is never cached.
func DropPage(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("Content-Length", strconv.Itoa(len(dropPage)))
	w.WriteHeader(status)
	_, _ = w.Write(dropPage)
}
