package links

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"filehub/files"
	"filehub/refusal"
)

// opTimeout bounds one change of a link in its Keeper on a client's behalf.
const opTimeout = 5 * time.Second

// maxRequest bounds the body of POST /_/links and of the password form.
const maxRequest = 8 << 10

// Hooks tell the caller of downloads through a link: package server passes
// the room's feed. May be nil; must not block.
type Hooks struct {
	// OnDownload is called after a file or a zip was sent through a link
	// (200 or 206), with the clean path (a zip's is files.ZipPath) and the
	// bytes sent.
	OnDownload func(l Link, path string, bytes int64)
}

// Guard limits password guesses: package server passes the token gate's
// lockout, so that a wrong password costs the same try as a wrong token.
type Guard interface {
	// Wait is how long r's client must wait for its next try: 0 when it
	// has one.
	Wait(r *http.Request) time.Duration
	// Fail counts a wrong password from r's client, and reports whether
	// the client still had a try for it.
	Fail(r *http.Request) bool
}

// Handlers are the HTTP doors of share links, for package server's routes.
// They read the path wildcards {id} and {name}.
type Handlers struct {
	// The owner's doors: package server puts them behind the token gate.
	Create http.Handler // POST /_/links
	List   http.Handler // GET /_/links
	Revoke http.Handler // DELETE /_/links/{id}

	// The guest's doors: open, the id in the URL is the key.
	Page   http.Handler // GET /_/link/{id}: the file, or the folder's listing; JSON when asked
	Unlock http.Handler // POST /_/link/{id}: the password form
	Get    http.Handler // GET /_/link/{id}/{name...}: the file, a subfolder's listing, ?zip
}

// NewHandlers returns the doors of links over store. Links are read-only:
// they work whatever the store's uploads, -read-only included.
//
// Every guest door of a link that ended (expired, revoked, used up)
// answers 410 while it is remembered (Config.KeepGone); an id no link has,
// 404. A link with a password answers 401 until it is given: in the form
// (which sets a cookie for the link's URLs only) or as Basic auth's
// password (scripts: curl -u :PASSWORD). Every answer carries
// Referrer-Policy: no-referrer, so that the link's URL, its key, never
// leaves in a Referer header.
func NewHandlers(l *Links, store *files.Store, guard Guard, hooks Hooks) Handlers {
	h := &handlers{links: l, store: store, guard: guard, hooks: hooks, log: l.log}
	h.files = files.Handler(store, files.Hooks{OnFetch: h.fetched})
	return Handlers{
		Create: http.HandlerFunc(h.create),
		List:   http.HandlerFunc(h.list),
		Revoke: http.HandlerFunc(h.revoke),
		Page:   http.HandlerFunc(h.page),
		Unlock: http.HandlerFunc(h.unlock),
		Get:    http.HandlerFunc(h.get),
	}
}

type handlers struct {
	links *Links
	store *files.Store
	files http.Handler // serves the bytes: ranges, ETags, the sandbox
	guard Guard
	hooks Hooks
	log   *slog.Logger
}

// linkView is a link as its owner sees it.
type linkView struct {
	ID           string    `json:"id"`
	URL          string    `json:"url"`
	Path         string    `json:"path"` // "docs/a.pdf", "docs/", "" for the root
	Expires      time.Time `json:"expires"`
	Label        string    `json:"label"`
	Room         string    `json:"room"`
	Created      time.Time `json:"created"`
	Password     bool      `json:"password"`
	MaxDownloads int       `json:"max_downloads"`
	Downloads    int       `json:"downloads"`
}

func view(r *http.Request, l Link) linkView {
	return linkView{
		ID: l.ID, URL: baseURL(r) + "/_/link/" + url.PathEscape(l.ID), Path: slashPath(l), Expires: l.Expires,
		Label: l.Label, Room: l.Room, Created: l.Created, Password: l.PassHash != "",
		MaxDownloads: l.MaxDownloads, Downloads: l.Downloads,
	}
}

// slashPath is the link's path as listings write it: folders end in "/",
// the root is "".
func slashPath(l Link) string {
	switch {
	case l.Path == ".":
		return ""
	case l.Dir:
		return l.Path + "/"
	}
	return l.Path
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func opContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), opTimeout)
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) {
	var req Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest))
	dec.DisallowUnknownFields() // a misspelt max_downloads must not make a link without that limit
	err := dec.Decode(&req)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("more after the object")
	}
	if err != nil {
		msg := `the body must be a JSON object such as {"path":"docs/a.pdf","expires":"24h"}`
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			msg = "unknown field " + f + ": the fields are path, expires, password, max_downloads, label and room"
		}
		h.fail(w, r, "", invalid("%s", msg))
		return
	}
	info, err := h.store.Stat(req.Path)
	switch {
	case err != nil && files.HTTPStatus(err) == http.StatusBadRequest:
		h.fail(w, r, "", invalid("path is not a file or folder of this server"))
		return
	case err != nil:
		h.fail(w, r, "", err)
		return
	}
	ctx, cancel := opContext(r)
	defer cancel()
	link, err := h.links.Create(ctx, info.Path, info.Dir, req)
	if err != nil {
		h.fail(w, r, "", err)
		return
	}
	writeJSON(w, http.StatusCreated, view(r, link))
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := opContext(r)
	defer cancel()
	live, err := h.links.List(ctx)
	if err != nil {
		h.fail(w, r, "", err)
		return
	}
	out := struct {
		Links []linkView `json:"links"`
	}{Links: make([]linkView, 0, len(live))}
	for _, l := range live {
		out.Links = append(out.Links, view(r, l))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handlers) revoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := opContext(r)
	defer cancel()
	if err := h.links.Revoke(ctx, id); err != nil {
		h.fail(w, r, id, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// open finds the live link of the request's {id} and checks its password;
// on false it has answered.
func (h *handlers) open(w http.ResponseWriter, r *http.Request) (Link, bool) {
	id := r.PathValue("id")
	guestHeaders(w)
	ctx, cancel := opContext(r)
	link, err := h.links.Open(ctx, id)
	cancel()
	if err != nil {
		h.fail(w, r, id, err)
		return Link{}, false
	}
	if link.PassHash == "" {
		return link, true
	}
	if c, err := r.Cookie(cookieName(link)); err == nil && Unlocked(link, c.Value) {
		return link, true
	}
	if _, pass, ok := r.BasicAuth(); ok && pass != "" {
		if err := h.try(r, link, pass); err != nil {
			h.fail(w, r, id, err)
			return Link{}, false
		}
		return link, true
	}
	h.fail(w, r, id, ErrPassword)
	return Link{}, false
}

// try checks a password given for link, within the guard's tries.
func (h *handlers) try(r *http.Request, link Link, pass string) error {
	if wait := h.guard.Wait(r); wait > 0 {
		return &lockedOut{wait}
	}
	if CheckPassword(link, pass) {
		return nil
	}
	if !h.guard.Fail(r) {
		return &lockedOut{h.guard.Wait(r)}
	}
	h.log.Info("wrong share link password", "link", Ref(link.ID), "remote", r.RemoteAddr)
	return fmt.Errorf("%w: wrong", ErrPassword)
}

// lockedOut is a client with no password try left (429).
type lockedOut struct{ wait time.Duration }

func (l *lockedOut) Error() string { return "links: too many wrong passwords" }

// cookieName is the cookie that says link's password was given.
func cookieName(link Link) string { return "filehub_link_" + Ref(link.ID) }

// unlock takes the password form, and sets the cookie for the link's URLs.
func (h *handlers) unlock(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	guestHeaders(w)
	ctx, cancel := opContext(r)
	link, err := h.links.Open(ctx, id)
	cancel()
	if err != nil {
		h.fail(w, r, id, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequest)
	if err := h.try(r, link, r.PostFormValue("password")); err != nil {
		h.fail(w, r, id, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(link), Value: Unlock(link), Path: "/_/link/" + id,
		Expires: link.Expires, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
	http.Redirect(w, r, "/_/link/"+url.PathEscape(id), http.StatusSeeOther)
}

// page is the link's own URL: the file, or the folder's listing.
func (h *handlers) page(w http.ResponseWriter, r *http.Request) {
	link, ok := h.open(w, r)
	if !ok {
		return
	}
	h.show(w, r, link, link.Path, link.Dir)
}

// get serves what is under the link's URL: for a file link its one file
// (by its name); for a folder link any file or folder below the folder.
func (h *handlers) get(w http.ResponseWriter, r *http.Request) {
	link, ok := h.open(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	var p string
	switch {
	case !link.Dir && name == path.Base(link.Path):
		p = link.Path
	case !link.Dir:
		h.fail(w, r, link.ID, ErrNotFound)
		return
	default:
		// No ".." may climb out of the link's folder before the joined
		// path is checked as every path is (hidden names, NUL, links out
		// are refused by Clean and the Store, as anywhere).
		for elem := range strings.SplitSeq(name, "/") {
			if elem == ".." {
				h.fail(w, r, link.ID, fmt.Errorf("links: %q: %w", name, files.ErrBadPath))
				return
			}
		}
		var err error
		if p, err = h.store.Clean(path.Join(link.Path, name)); err != nil {
			h.fail(w, r, link.ID, err)
			return
		}
	}
	if err := h.within(link, p); err != nil {
		h.fail(w, r, link.ID, err)
		return
	}
	in, err := h.store.Stat(p)
	if err != nil {
		h.fail(w, r, link.ID, err)
		return
	}
	if in.Dir && r.URL.Query().Has("zip") {
		if link, ok = h.take(w, r, link); ok {
			h.zipFolder(w, r, link, p, in)
		}
		return
	}
	if in.Dir {
		if !strings.HasSuffix(name, "/") && name != "" {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		h.show(w, r, link, p, true)
		return
	}
	q := "download"
	if r.URL.Query().Has("inline") {
		q = ""
	}
	h.send(w, r, link, "/"+p, q)
}

// show answers the page of the file or folder p of link: JSON when asked.
func (h *handlers) show(w http.ResponseWriter, r *http.Request, link Link, p string, dir bool) {
	pg := guestPage{Label: link.Label, Expires: link.Expires, Base: "/_/link/" + url.PathEscape(link.ID) + "/"}
	if link.MaxDownloads > 0 {
		pg.Left = link.MaxDownloads - link.Downloads
	}
	in, err := h.store.Stat(p)
	if err != nil {
		h.fail(w, r, link.ID, err)
		return
	}
	pg.File = in
	pg.Rel = relTo(link, p)
	if dir {
		list, err := h.store.List(p)
		if err != nil {
			h.fail(w, r, link.ID, err)
			return
		}
		for _, e := range list {
			if h.within(link, e.Path) == nil {
				pg.Entries = append(pg.Entries, e)
			}
		}
	}
	if files.WantsJSON(r) {
		writeJSON(w, http.StatusOK, pg.json())
		return
	}
	writePage(w, http.StatusOK, pg)
}

// within checks that the clean path p, under a folder link's folder as
// spelt, is there once symlinks are resolved too: a link inside the
// shared folder to a file beside it ("sideways -> ../private.txt") is
// not part of what was shared (404).
func (h *handlers) within(link Link, p string) error {
	if !link.Dir {
		return nil
	}
	top, err := h.store.RealPath(link.Path)
	if err != nil {
		return err
	}
	real, err := h.store.RealPath(p)
	if err != nil {
		return err
	}
	if top != "." && real != top && !strings.HasPrefix(real, top+"/") {
		return fmt.Errorf("links: %q leads out of the link's folder, to %q: %w", p, real, ErrNotFound)
	}
	return nil
}

// relTo is p relative to link's folder, as the guest's URLs name it:
// "" for the folder itself, the file's name for a file link.
func relTo(link Link, p string) string {
	if !link.Dir {
		return path.Base(p)
	}
	if p == link.Path {
		return ""
	}
	if link.Path == "." {
		return p
	}
	return strings.TrimPrefix(p, link.Path+"/")
}

type linkKey struct{}

// send counts a download and serves the bytes of the clean URL path p with
// the files handler (ranges, ETag, the sandbox), query its only query.
// A range that does not start at 0 goes on with a download already
// counted, and HEAD downloads nothing: neither counts.
func (h *handlers) send(w http.ResponseWriter, r *http.Request, link Link, p, query string) {
	link, ok := h.take(w, r, link)
	if !ok {
		return
	}
	r2 := r.Clone(contextWith(r, link))
	r2.URL.Path, r2.URL.RawPath, r2.URL.RawQuery = p, "", query
	h.files.ServeHTTP(w, r2)
}

// take counts a download of link, unless r is a HEAD or a resumed range;
// on false it has answered (410: none left).
func (h *handlers) take(w http.ResponseWriter, r *http.Request, link Link) (Link, bool) {
	if r.Method != http.MethodGet || resumed(r) {
		return link, true
	}
	ctx, cancel := opContext(r)
	defer cancel()
	taken, err := h.links.TakeDownload(ctx, link.ID)
	if err != nil {
		h.fail(w, r, link.ID, err)
		return link, false
	}
	return taken, true
}

// contextWith is r's context carrying link, for fetched.
func contextWith(r *http.Request, link Link) context.Context {
	return context.WithValue(r.Context(), linkKey{}, link)
}

// resumed reports whether r asks for a range that starts past byte 0.
func resumed(r *http.Request) bool {
	rg := r.Header.Get("Range")
	if rg == "" {
		return false
	}
	start, _, _ := strings.Cut(strings.TrimPrefix(rg, "bytes="), "-")
	n, err := strconv.ParseInt(strings.TrimSpace(start), 10, 64)
	return err == nil && n > 0
}

// fetched is the files handler's OnFetch: a download through a link.
func (h *handlers) fetched(r *http.Request, p string, n int64) {
	link, ok := r.Context().Value(linkKey{}).(Link)
	if !ok {
		return
	}
	h.log.Info("share download", "link", Ref(link.ID), "path", p, "bytes", n)
	if h.hooks.OnDownload != nil {
		h.hooks.OnDownload(link, p, n)
	}
}

// guestHeaders go on every answer of a guest door: the URL is a key, and
// must not leave in a Referer; nothing is cached by the way.
func guestHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
}

func status(err error) int {
	var lo *lockedOut
	switch {
	case errors.As(err, &lo):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrGone):
		return http.StatusGone
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrPassword):
		return http.StatusUnauthorized
	case errors.Is(err, ErrTooMany):
		return http.StatusConflict
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return files.HTTPStatus(err)
}

var messages = map[int]string{
	http.StatusBadRequest:          "bad request",
	http.StatusUnauthorized:        "this link needs its password",
	http.StatusNotFound:            "no such share link or file",
	http.StatusConflict:            "too many live share links: revoke some first",
	http.StatusGone:                "this share link expired, was revoked or was used up",
	http.StatusTooManyRequests:     "too many wrong passwords from your address; try again later",
	http.StatusServiceUnavailable:  "share links are unavailable for now; try again later",
	http.StatusInternalServerError: "internal error",
}

var codes = map[int]string{
	http.StatusBadRequest: "bad_request", http.StatusUnauthorized: "password_required", http.StatusNotFound: "not_found",
	http.StatusConflict: "too_many", http.StatusGone: "gone", http.StatusTooManyRequests: "rate_limited",
	http.StatusServiceUnavailable: "unavailable", http.StatusInternalServerError: "internal",
}

// fail answers err: JSON to a client that asks for it, the guest page's
// message (with the password form for 401) to a browser, else a line of
// text. The log names the link by its Ref, never its id.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, id string, err error) {
	code := status(err)
	level := slog.LevelDebug
	if code >= 500 {
		level = slog.LevelWarn
	}
	args := []any{"method", r.Method, "status", code, "err", err}
	if id != "" {
		args = append(args, "link", Ref(id))
	}
	h.log.Log(r.Context(), level, "links: request failed", args...)
	msg := messages[code]
	var p *problem
	if errors.As(err, &p) {
		msg = p.msg
	}
	if msg == "" {
		msg = strings.ToLower(http.StatusText(code))
	}
	var lo *lockedOut
	if errors.As(err, &lo) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(lo.wait.Round(time.Second)/time.Second))))
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="filehub share link", charset="UTF-8"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case files.WantsJSON(r):
		c := codes[code]
		if c == "" {
			c = "error"
		}
		refusal.Write(w, code, c, msg)
	case strings.Contains(r.Header.Get("Accept"), "text/html") && id != "":
		pg := guestPage{Message: msg, Ask: code == http.StatusUnauthorized, Action: "/_/link/" + url.PathEscape(id)}
		pg.Message = strings.ToUpper(msg[:1]) + msg[1:] + "."
		if errors.Is(err, ErrPassword) && strings.Contains(err.Error(), "wrong") {
			pg.Message = "That password is not right."
		}
		writePage(w, code, pg)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		io.WriteString(w, strconv.Itoa(code)+" "+msg+"\n")
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
