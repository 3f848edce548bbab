package links

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"filehub/files"
)

// guestPage is what the guest sees: the file, or the folder's listing, and
// nothing of the server (no room, no other path, no way further in).
type guestPage struct {
	Label   string
	Expires time.Time
	Left    int    // downloads left; 0 when unlimited
	Base    string // "/_/link/ID/": every URL of the page starts with it
	File    files.Info
	Rel     string // the file's name, or the folder relative to the link's ("" for its own)
	Entries []files.Info

	Message string // an error instead of the above
	Ask     bool   // show the password form
	Action  string // where the form posts
}

// guestJSON is guestPage for scripts.
type guestJSON struct {
	Label         string       `json:"label"`
	Expires       time.Time    `json:"expires"`
	DownloadsLeft *int         `json:"downloads_left,omitempty"`
	Name          string       `json:"name"`
	Dir           bool         `json:"dir"`
	Size          int64        `json:"size"`
	Type          string       `json:"type"`
	URL           string       `json:"url"` // the file's, or the folder's zip
	Entries       []guestEntry `json:"entries,omitempty"`
}

type guestEntry struct {
	Name string `json:"name"`
	Dir  bool   `json:"dir"`
	Size int64  `json:"size"`
	URL  string `json:"url"`
}

func (p guestPage) json() guestJSON {
	out := guestJSON{Label: p.Label, Expires: p.Expires, Name: p.File.Name, Dir: p.File.Dir, Size: p.File.Size, Type: p.File.Type, URL: p.Download()}
	if p.Left > 0 {
		left := p.Left
		out.DownloadsLeft = &left
	}
	for _, e := range p.Entries {
		out.Entries = append(out.Entries, guestEntry{Name: e.Name, Dir: e.Dir, Size: e.Size, URL: p.Href(e)})
	}
	return out
}

// escape writes a slash path as a URL path, element by element.
func escape(p string) string {
	if p == "" {
		return ""
	}
	parts := strings.Split(p, "/")
	for i, e := range parts {
		parts[i] = url.PathEscape(e)
	}
	return strings.Join(parts, "/")
}

// Href is the URL of an entry of the listing.
func (p guestPage) Href(e files.Info) string {
	rel := e.Name
	if p.Rel != "" {
		rel = p.Rel + "/" + e.Name
	}
	if e.Dir {
		return p.Base + escape(rel) + "/"
	}
	return p.Base + escape(rel)
}

// Download is the URL that downloads the page's file, or its folder as a zip.
func (p guestPage) Download() string {
	if p.File.Dir {
		if p.Rel == "" {
			return p.Base + "?zip"
		}
		return p.Base + escape(p.Rel) + "/?zip"
	}
	return p.Base + escape(p.Rel)
}

// Preview is the URL of an image's inline preview, "" for other files and
// for links with a download limit (a preview is a download).
func (p guestPage) Preview() string {
	if p.File.Dir || p.Left > 0 || !strings.HasPrefix(p.File.Type, "image/") || p.File.Type == "image/svg+xml" {
		return ""
	}
	return p.Base + escape(p.Rel) + "?inline"
}

// Size writes a size for people.
func (guestPage) Size(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}

// pageCSP: no script at all; styles inline; images from here (the
// preview); forms post here only.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

var pageTmpl = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{if .Message}}Share link{{else if .File.Dir}}{{if .File.Name}}{{.File.Name}}{{else}}Shared folder{{end}}{{else}}{{.File.Name}}{{end}}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.3rem;word-break:break-word}
.meta{color:#555;font-size:.9rem}
a.button,button{display:inline-block;background:#2457d6;color:#fff;border:0;border-radius:.4rem;padding:.6rem 1.1rem;font-size:1rem;text-decoration:none;cursor:pointer}
table{width:100%;border-collapse:collapse;margin:1rem 0}
td{padding:.45rem .3rem;border-bottom:1px solid #e3e3e3;word-break:break-word}
td.size{text-align:right;white-space:nowrap;color:#555}
img{max-width:100%;margin:1rem 0;border-radius:.3rem}
input{font-size:1rem;padding:.5rem;width:14rem;max-width:100%}
.msg{padding:.8rem 1rem;background:#fff3cd;border-radius:.4rem}
</style></head><body>
{{if .Message}}
<p class="msg">{{.Message}}</p>
{{if .Ask}}<form method="post" action="{{.Action}}"><label>Password <input type="password" name="password" autocomplete="current-password" autofocus required></label> <button type="submit">Open</button></form>{{end}}
{{else}}
{{if .Label}}<p class="meta">Shared by {{.Label}}</p>{{end}}
{{if .File.Dir}}
<h1>{{if .Rel}}{{.Rel}}/{{else if .File.Name}}{{.File.Name}}/{{else}}Shared folder{{end}}</h1>
<p><a class="button" href="{{.Download}}">Download all as zip</a></p>
<table>{{range .Entries}}<tr><td><a href="{{$.Href .}}">{{.Name}}{{if .Dir}}/{{end}}</a></td><td class="size">{{if not .Dir}}{{$.Size .Size}}{{end}}</td></tr>{{else}}<tr><td>This folder is empty.</td></tr>{{end}}</table>
{{else}}
<h1>{{.File.Name}}</h1>
<p class="meta">{{.Size .File.Size}} · {{.File.Type}}</p>
{{with .Preview}}<img src="{{.}}" alt="">{{end}}
<p><a class="button" href="{{.Download}}">Download</a></p>
{{end}}
<p class="meta">This link works until {{.Expires.Format "2 Jan 2006 15:04 MST"}}{{if .Left}}, for {{.Left}} more download{{if ne .Left 1}}s{{end}}{{end}}.</p>
{{end}}
</body></html>
`))

// writePage renders the guest page with a status; rendered to a buffer
// first, so that a failure is a clean 500.
func writePage(w http.ResponseWriter, code int, pg guestPage) {
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, pg); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", pageCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(code)
	b.WriteTo(w)
}
