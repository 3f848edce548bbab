// Package web serves the room page of filehub: one HTML page and the
// JavaScript modules, style sheet and icon it loads, all embedded in the
// binary with //go:embed so that the page works offline and needs no build
// step.
//
// The page and the served files share one origin, so the page is locked
// down by a strict Content-Security-Policy: scripts and styles only from the
// embedded assets (no inline script, no inline style attribute), images also
// from blob: URLs (the viewer shows raster images it fetched over the
// WebSocket from Blob URLs), connections only to the same origin (HTTP
// fetches and the /ws WebSocket). Every user-provided string (names, paths,
// chat, file content) is rendered by the page through textContent, never
// innerHTML.
//
// A blob: URL has the page's origin, so the page never makes one that a
// browser would render as a document: every Blob of file bytes is typed
// application/octet-stream, except raster images (static/content.js), and
// SVG is shown from its served, sandboxed URL. Markdown is the one markup
// the page renders: marked with raw HTML off, then DOMPurify into DOM nodes
// (static/vendor, vendored as published, no build step).
//
// The page's DOM-free modules are tested under node --test (jstest/, run
// by TestNodeModels).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// all: because the vendored modules have names that start with "_"
// (vendor/noble-hashes/_md.js), which a plain pattern leaves out.
//
//go:embed all:static
var static embed.FS

// StaticPrefix is the URL path under which Handler serves the page's assets.
// It lies in the "/_/" space that the file server never serves files from.
const StaticPrefix = "/_/static/"

// ContentSecurityPolicy is the policy sent with the page and its assets.
// connect-src 'self' also allows the same-origin ws: and wss: URL of /ws in
// current browsers (CSP Level 3); the browser test checks it in Chromium.
// img-src allows blob: for raster images the page holds; nothing uses data:
// URLs. Media elements and the PDF viewer's frame load served files, which
// default-src 'self' covers (media-src, frame-src); a served file carries
// its own "Content-Security-Policy: sandbox", so a frame of one has a
// unique origin and cannot script the page.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob:; connect-src 'self'; object-src 'none'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// asset is one embedded file, read once, with the strong ETag of its bytes.
type asset struct {
	name  string
	data  []byte
	etag  string
	ctype string
}

// contentTypes maps the extensions used in static/ to their types; set
// explicitly so that the result does not depend on the host's MIME tables.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".md":   "text/plain; charset=utf-8", // the vendored packages' READMEs
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Handler returns the handler of the page: GET (and HEAD) "/" answers the
// room page and GET "/_/static/NAME" the embedded asset NAME, with ETag and
// conditional requests (304) through http.ServeContent. Anything else is
// 404, other methods 405. Every response carries the security headers
// (Content-Security-Policy, X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer) and Cache-Control: no-cache, so a browser
// revalidates after an upgrade of the binary instead of running stale code.
//
// Handler reads the embedded files once; the returned handler is safe for
// concurrent use.
func Handler() http.Handler {
	assets := make(map[string]*asset)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		name := strings.TrimPrefix(p, "static/")
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			ctype = "application/octet-stream"
		}
		assets[name] = &asset{name: name, data: data, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, ctype: ctype}
		return nil
	})
	if err != nil {
		// The files are compiled into the binary: failing to read them is a
		// build defect, not a run-time condition.
		panic("web: reading embedded assets: " + err.Error())
	}
	page := assets["index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var a *asset
		switch p := r.URL.Path; {
		case p == "/":
			a = page
		case strings.HasPrefix(p, StaticPrefix):
			a = assets[strings.TrimPrefix(p, StaticPrefix)]
		}
		if a == nil {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", a.ctype)
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.data))
	})
}
