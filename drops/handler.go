package drops

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

// opTimeout bounds one change of a link in its Keeper, on a client's
// behalf: a cluster that does not answer within it is a 503, not a hang.
const opTimeout = 5 * time.Second

// defaultProgressInterval is Hooks.ProgressInterval's default, as for
// every other upload: four reports a second.
const defaultProgressInterval = 250 * time.Millisecond

// maxRequest bounds the body of POST /_/drops.
const maxRequest = 8 << 10

// Hooks are how the handlers tell their caller of uploads through a link:
// package server passes the room's feed. All may be nil; none may block.
type Hooks struct {
	// OnUpload is called after an upload was stored, before the answer.
	OnUpload func(l Link, res files.PutResult)
	// OnUploadProgress is called when an upload starts receiving (received
	// 0), then at most once per ProgressInterval; size is -1 when the
	// client did not say.
	OnUploadProgress func(l Link, path string, received, size int64)
	// OnUploadAbort is called when an upload that OnUploadProgress
	// announced does not finish.
	OnUploadAbort func(l Link, path string, received int64, err error)
	// ProgressInterval defaults to 250 ms.
	ProgressInterval time.Duration
}

// Handlers are the HTTP doors of drop links, for package server's routes. They read
// the path wildcards {id} and {name}.
type Handlers struct {
	// The owner's doors: package server puts them behind the token gate.
	Create http.Handler // POST /_/drops
	List   http.Handler // GET /_/drops
	Revoke http.Handler // DELETE /_/drops/{id}

	// The guest's doors: open, the id in the URL is the key.
	Page   http.Handler // GET /_/drop/{id}: the page, or {label,…} as JSON
	Upload http.Handler // PUT /_/drop/{id}/{name...}
	Other  http.Handler // GET /_/drop/{id}/{name...}: nothing to read (405), or 410
}

// NewHandlers returns the doors of links. Uploads go into store through
// Store.PutNew, whatever store's Config.Uploads says (a read-only store
// refuses them, and refuses new links); page writes the guest's upload
// page with a status (package server passes web's).
//
// Every door of a link that expired or was revoked answers 410, while the
// link is remembered (Config.KeepGone); an id no link has, 404. Errors
// answer with a status and a message that says nothing of the server: no
// path of the machine, no id.
func NewHandlers(l *Links, store *files.Store, page func(w http.ResponseWriter, status int), hooks Hooks) Handlers {
	if hooks.ProgressInterval <= 0 {
		hooks.ProgressInterval = defaultProgressInterval
	}
	h := &handlers{links: l, store: store, page: page, hooks: hooks, log: l.log}
	return Handlers{
		Create: http.HandlerFunc(h.create),
		List:   http.HandlerFunc(h.list),
		Revoke: http.HandlerFunc(h.revoke),
		Page:   http.HandlerFunc(h.guestPage),
		Upload: http.HandlerFunc(h.upload),
		Other:  http.HandlerFunc(h.other),
	}
}

type handlers struct {
	links *Links
	store *files.Store
	page  func(w http.ResponseWriter, status int)
	hooks Hooks
	log   *slog.Logger
}

// linkView is a link as its owner sees it.
type linkView struct {
	ID       string    `json:"id"`
	URL      string    `json:"url"`
	Path     string    `json:"path"` // "incoming/", "" for the root, as listings name folders
	Expires  time.Time `json:"expires"`
	Label    string    `json:"label"`
	Room     string    `json:"room"`
	Created  time.Time `json:"created"`
	MaxBytes int64     `json:"max_bytes"`
	MaxFiles int       `json:"max_files"`
	Bytes    int64     `json:"bytes"`
	Files    int       `json:"files"`
}

func view(r *http.Request, l Link) linkView {
	p := l.Path + "/"
	if l.Path == "." || l.Path == "" {
		p = ""
	}
	return linkView{
		ID: l.ID, URL: baseURL(r) + "/_/drop/" + url.PathEscape(l.ID), Path: p, Expires: l.Expires,
		Label: l.Label, Room: l.Room, Created: l.Created,
		MaxBytes: l.MaxBytes, MaxFiles: l.MaxFiles, Bytes: l.Bytes, Files: l.Files,
	}
}

// guestView is a link as someone with only the link sees it: not its
// folder, not its room.
type guestView struct {
	Label     string    `json:"label"`
	Expires   time.Time `json:"expires"`
	MaxBytes  int64     `json:"max_bytes"`
	MaxFiles  int       `json:"max_files"`
	Bytes     int64     `json:"bytes"`
	Files     int       `json:"files"`
	MaxUpload int64     `json:"max_upload"`
}

// baseURL is the scheme and host the request came to: the link's URL is
// given for that address, which the owner reached this server at.
func baseURL(r *http.Request) string {
	scheme := "http"
	// the server's middleware deletes X-Forwarded-Proto unless a trusted proxy sent it.
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func opContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), opTimeout)
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) {
	if h.store.Config().ReadOnly {
		h.fail(w, r, "", fmt.Errorf("drops: a read-only server takes no uploads: %w", files.ErrForbidden))
		return
	}
	var req Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest))
	// A field misspelt ("max_file") must not make a link without that
	// limit: unknown fields, and anything after the object, are refused.
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("more after the object")
	}
	if err != nil {
		msg := `the body must be a JSON object such as {"path":"incoming/","expires":"24h"}`
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			msg = "unknown field " + f + ": the fields are path, expires, max_bytes, max_files, label and room"
		}
		h.fail(w, r, "", invalid("%s", msg))
		return
	}
	info, err := h.store.Stat(req.Path)
	switch {
	case err != nil && status(err) == http.StatusBadRequest:
		h.fail(w, r, "", invalid("path is not a folder of this server"))
		return
	case err != nil:
		h.fail(w, r, "", err)
		return
	case !info.Dir:
		h.fail(w, r, "", invalid("path must be a folder"))
		return
	}
	ctx, cancel := opContext(r)
	defer cancel()
	link, err := h.links.Create(ctx, info.Path, req)
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
		Drops []linkView `json:"drops"`
	}{Drops: make([]linkView, 0, len(live))}
	for _, l := range live {
		out.Drops = append(out.Drops, view(r, l))
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

// guestPage serves the upload page to browsers, and the link's limits as
// JSON to the page's script (and any client that asks for JSON).
func (h *handlers) guestPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := opContext(r)
	defer cancel()
	link, err := h.links.Open(ctx, id)
	if !files.WantsJSON(r) {
		code := http.StatusOK
		if err != nil {
			code = status(err)
			h.logFail(r, id, code, err)
		}
		h.page(w, code) // the page's script asks again, for JSON, and says why
		return
	}
	if err != nil {
		h.fail(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, guestView{
		Label: link.Label, Expires: link.Expires, MaxBytes: link.MaxBytes, MaxFiles: link.MaxFiles,
		Bytes: link.Bytes, Files: link.Files, MaxUpload: h.store.Config().MaxUpload,
	})
}

// other answers what a drop link does not do under its URL: read a file,
// list the folder.
func (h *handlers) other(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := opContext(r)
	defer cancel()
	if _, err := h.links.Open(ctx, id); err != nil {
		h.fail(w, r, id, err)
		return
	}
	w.Header().Set("Allow", "PUT")
	h.fail(w, r, id, errNotHere)
}

// errNotHere is a read through a drop link's URL (405).
var errNotHere = errors.New("drops: a drop link takes uploads only")

func (h *handlers) upload(w http.ResponseWriter, r *http.Request) {
	cfg := h.store.Config()
	// First: a refused upload's body is still read (discarded) by net/http
	// once the handler returns, and must not hold the connection forever.
	body := files.IdleBody(w, http.MaxBytesReader(w, r.Body, cfg.MaxUpload), cfg.BodyIdleTimeout)
	id, name := r.PathValue("id"), r.PathValue("name")
	ctx, cancel := opContext(r)
	link, err := h.links.Open(ctx, id)
	cancel()
	switch {
	case err != nil:
	case cfg.ReadOnly:
		err = fmt.Errorf("drops: upload %q: read-only: %w", name, files.ErrForbidden)
	case r.Header.Get("Content-Range") != "":
		err = invalid("a drop link takes whole files, without Content-Range")
	case r.ContentLength > cfg.MaxUpload: // before a byte is read, or 100-continued
		err = fmt.Errorf("drops: upload %q: Content-Length %d: %w", name, r.ContentLength, files.ErrTooLarge)
	default:
		err = files.ValidName(name)
	}
	if err == nil {
		// A name taken is refused before the link is changed: a refused
		// upload costs the state nothing. PutNew checks again, atomically.
		if _, serr := h.store.Stat(path.Join(link.Path, name)); serr == nil {
			err = fmt.Errorf("drops: upload %q: %w", name, files.ErrExists)
		}
	}
	if err != nil {
		h.fail(w, r, id, err)
		return
	}
	ctx, cancel = opContext(r)
	link, res, err := h.links.Reserve(ctx, id, r.ContentLength, cfg.MaxUpload)
	cancel()
	if err != nil {
		h.fail(w, r, id, err)
		return
	}
	pr := files.NewProgress(body)
	size := r.ContentLength
	var started string
	put, err := h.store.PutNew(link.Path, name, pr, res.Bytes, func(p string) {
		started = p
		if cb := h.hooks.OnUploadProgress; cb != nil {
			cb(link, p, 0, size)
			pr.Start(h.hooks.ProgressInterval, func(n int64) { cb(link, p, n, size) })
		}
	})
	// The request's end is often why an upload failed: settle regardless.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(r.Context()), opTimeout)
	h.links.Settle(sctx, res, put.Size, err == nil)
	scancel()
	if err != nil {
		if started != "" && h.hooks.OnUploadAbort != nil {
			h.hooks.OnUploadAbort(link, started, pr.N(), err)
		}
		h.fail(w, r, id, err)
		return
	}
	h.log.Info("drop upload", "link", Ref(id), "path", put.Path, "bytes", put.Size)
	if h.hooks.OnUpload != nil {
		h.hooks.OnUpload(link, put)
	}
	writeJSON(w, http.StatusCreated, struct {
		Name   string `json:"name"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}{name, put.Size, put.SHA256})
}

// status is the one table from errors to HTTP statuses; files' errors go
// through files.HTTPStatus.
func status(err error) int {
	switch {
	case errors.Is(err, ErrGone):
		return http.StatusGone
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrFull):
		return http.StatusForbidden
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrTooMany):
		return http.StatusConflict
	case errors.Is(err, errNotHere):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return files.HTTPStatus(err)
}

// messages say what a status means for a drop link, without a detail of
// the server.
var messages = map[int]string{
	http.StatusBadRequest:            "bad request: a file needs a plain name (no folders, no leading dot)",
	http.StatusForbidden:             "refused: the link takes no more files, or the server takes no uploads",
	http.StatusNotFound:              "no such drop link or folder",
	http.StatusMethodNotAllowed:      "a drop link takes uploads only: nothing can be read or listed through it",
	http.StatusRequestTimeout:        "the upload stopped sending",
	http.StatusConflict:              "a file of that name is already there",
	http.StatusGone:                  "this drop link expired or was revoked",
	http.StatusRequestEntityTooLarge: "too large for what this drop link or the server takes",
	http.StatusServiceUnavailable:    "drop links are unavailable for now; try again later",
	http.StatusInternalServerError:   "internal error",
}

// codes name each status in the JSON of an error, as the protocol's codes do.
var codes = map[int]string{
	http.StatusBadRequest: "bad_request", http.StatusForbidden: "forbidden", http.StatusNotFound: "not_found",
	http.StatusMethodNotAllowed: "not_allowed", http.StatusRequestTimeout: "timeout", http.StatusConflict: "exists",
	http.StatusGone: "gone", http.StatusRequestEntityTooLarge: "too_large", http.StatusServiceUnavailable: "unavailable",
	http.StatusInternalServerError: "internal",
}

// fail answers err: JSON {"error":{"code","message"}} to a client that
// asks for JSON, else a line of text. The details go to the log, which
// names the link by its Ref, never its id.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, id string, err error) {
	code := status(err)
	h.logFail(r, id, code, err)
	msg := messages[code]
	var p *problem
	switch {
	case errors.As(err, &p):
		msg = p.msg
	case errors.Is(err, ErrTooMany):
		msg = "too many live drop links: revoke some first"
	case code == http.StatusForbidden && errors.Is(err, ErrFull):
		msg = "this drop link took all the files it may"
	case code == http.StatusForbidden:
		msg = "refused: this server takes no uploads"
	case msg == "":
		msg = strings.ToLower(http.StatusText(code))
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	if code == http.StatusRequestTimeout {
		hd.Set("Connection", "close") // the body was cut: the connection cannot carry another request
	}
	if files.WantsJSON(r) {
		c := codes[code]
		if c == "" {
			c = "error"
		}
		refusal.Write(w, code, c, msg)
		return
	}
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	io.WriteString(w, strconv.Itoa(code)+" "+msg+"\n")
}

func (h *handlers) logFail(r *http.Request, id string, code int, err error) {
	level := slog.LevelDebug
	if code >= 500 {
		level = slog.LevelWarn
	}
	args := []any{"method", r.Method, "status", code, "err", err}
	if id != "" {
		args = append(args, "link", Ref(id))
	}
	h.log.Log(r.Context(), level, "drops: request failed", args...)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
