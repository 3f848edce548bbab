// Package dav serves the folder over WebDAV (RFC 4918, classes 1 and 2),
// so that Finder, Windows Explorer, the iOS Files app, davfs2 or rclone
// can mount it. It is golang.org/x/net/webdav over a webdav.FileSystem
// that goes through the files.Store for everything: the same names are
// refused (dotfiles unless the Store shows them, temp files, reserved
// names, "..", control characters), the same links are refused (out of
// the folder, or to a hidden name), FIFOs and devices do not exist, and
// writes are the Store's atomic uploads (a temp file, then a rename).
//
// The Store decides what may change: with its uploads off (or read-only)
// only OPTIONS, GET, HEAD and PROPFIND are answered, anything else 403,
// and OPTIONS says "DAV: 1" so that clients mount read-only.
//
// Locks (class 2) are webdav's in-memory lock system: they keep two
// WebDAV clients of this process from writing over each other, not the
// page or other nodes. Dead properties (PROPPATCH) are kept in memory too,
// bounded, and forgotten on restart.
//
// The token is not this package's business: the server's gate stands in
// front of it (and takes Basic auth for clients that speak nothing else).
package dav

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/webdav"

	"filehub/files"
)

// Prefix is where the handler expects to be mounted, without the final
// slash: "/_/dav/" is the folder's root.
const Prefix = "/_/dav"

// Methods are the methods the handler answers; a router registers each.
var Methods = []string{"OPTIONS", "GET", "HEAD", "PUT", "DELETE", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "PROPFIND", "PROPPATCH"}

// readMethods are answered whether or not the Store takes uploads.
var readMethods = map[string]bool{"OPTIONS": true, "GET": true, "HEAD": true, "PROPFIND": true}

// Config configures the handler. Zero values mean the defaults.
type Config struct {
	// BodyIdleTimeout cuts a PUT whose body makes no progress for this
	// long (the answer is 408). Defaults to the Store's
	// Config.BodyIdleTimeout; negative turns it off.
	BodyIdleTimeout time.Duration
	// Logger receives failed requests at Debug. Defaults to discarding.
	Logger *slog.Logger
}

// Hooks tell the caller what happened; package server connects them to
// the room's feed. All may be nil.
type Hooks struct {
	// OnWrite is called once a file written through WebDAV (PUT, or a
	// COPY's destination; not the empty file a LOCK of a new name makes)
	// is in place, before the answer is written. It
	// must not block.
	OnWrite func(r *http.Request, res files.PutResult)
}

// Handler serves the Store over WebDAV at Prefix.
func Handler(s *files.Store, hooks Hooks, cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BodyIdleTimeout == 0 {
		cfg.BodyIdleTimeout = s.Config().BodyIdleTimeout
	}
	h := &handler{s: s, cfg: cfg}
	h.dav = &webdav.Handler{
		Prefix:     Prefix,
		FileSystem: &fsys{s: s, props: &deadProps{}, hooks: hooks},
		LockSystem: webdav.NewMemLS(),
		Logger: func(r *http.Request, err error) {
			if err != nil {
				cfg.Logger.Debug("dav request", "method", r.Method, "path", r.URL.Path, "err", err)
			}
		},
	}
	return h
}

type handler struct {
	s   *files.Store
	cfg Config
	dav *webdav.Handler
}

func (h *handler) writable() bool {
	c := h.s.Config()
	return c.Uploads && !c.ReadOnly
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		http.NotFound(w, r)
		return
	}
	// Judge every name before webdav sees it, for a clean 400 or 404: the
	// Store would refuse it too, but webdav turns most refusals into 404
	// or 405 whatever they were.
	src, err := h.s.Clean(rest)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !readMethods[r.Method] && !h.writable() {
		h.fail(w, r, files.ErrForbidden)
		return
	}
	switch r.Method {
	case "OPTIONS":
		if !h.writable() {
			// Class 1 only: Finder mounts a share without locks read-only.
			w.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND")
			w.Header().Set("DAV", "1")
			w.Header().Set("MS-Author-Via", "DAV")
			w.WriteHeader(http.StatusOK)
			return
		}
	case "GET", "HEAD":
		// As files serves them: the folder shares the page's origin.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "sandbox")
	case "PUT":
		if err := h.s.CheckPut(rest, true); err != nil {
			if errors.Is(err, fs.ErrNotExist) && !h.parentExists(src) {
				// RFC 4918, 9.7.1: a PUT into a folder that is not there.
				err = errConflict
			}
			h.fail(w, r, err)
			return
		}
	case "COPY", "MOVE":
		dst, err := h.destination(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if _, err := h.s.Stat(src); err != nil {
			h.fail(w, r, err) // webdav's MOVE would answer 403 for a source not there
			return
		}
		if src == "." || dst == "." || strings.HasPrefix(dst+"/", src+"/") && dst != src {
			// Into itself: webdav's COPY would recurse until paths grew
			// too long.
			h.fail(w, r, files.ErrForbidden)
			return
		}
	}
	switch r.Method {
	case "PROPFIND", "PROPPATCH", "LOCK":
		if err := checkXML(w, r); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	st := &state{r: r, method: r.Method, put: r.Method == "PUT"}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	if st.put {
		r.Body = &body{r: files.IdleBody(w, r.Body, h.cfg.BodyIdleTimeout), rc: r.Body, st: st}
	}
	h.dav.ServeHTTP(&statusFix{ResponseWriter: w, st: st}, r)
}

// maxXML bounds the XML body of PROPFIND, PROPPATCH and LOCK, which
// webdav decodes whole.
const maxXML = 1 << 20

// checkXML reads r's XML body, at most maxXML bytes, refuses what
// webdav's decoder would take but XML namespaces forbid (a prefix bound to
// the empty name, xmlns:p=""), and puts the body back for webdav.
func checkXML(w http.ResponseWriter, r *http.Request) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxXML))
	if err != nil {
		return fmt.Errorf("dav: %s body: %w", r.Method, err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.RawToken()
		if err != nil {
			return nil // the end, or what webdav will refuse itself
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Space == "xmlns" && a.Value == "" {
					return fmt.Errorf("dav: %s body: prefix %q bound to no namespace: %w", r.Method, a.Name.Local, files.ErrBadPath)
				}
			}
		}
	}
}

// errConflict answers 409.
var errConflict = fmt.Errorf("dav: no such folder: %w", files.ErrExists)

// parentExists reports whether the folder of the clean path p is one the
// Store shows.
func (h *handler) parentExists(p string) bool {
	in, err := h.s.Stat(path.Dir(p))
	return err == nil && in.Dir
}

// destination is the clean path a COPY or MOVE's Destination names: a
// URL on this server, under Prefix.
func (h *handler) destination(r *http.Request) (string, error) {
	u, err := url.Parse(r.Header.Get("Destination"))
	if err != nil || u.Path == "" {
		return "", files.ErrBadPath
	}
	rest, ok := strings.CutPrefix(u.Path, Prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", files.ErrBadPath
	}
	return h.s.Clean(rest)
}

// fail answers err with files' status and a generic body.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := files.HTTPStatus(err)
	h.cfg.Logger.Debug("dav refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	if status == http.StatusForbidden && !h.writable() {
		w.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND")
	}
	http.Error(w, http.StatusText(status), status)
}

type stateKey struct{}

// state is what one request's filesystem calls learned, for the writes
// they make and for the answer's status.
type state struct {
	r      *http.Request
	method string
	put    bool // the body is the upload: a write is complete only once it was read to its end

	mu      sync.Mutex
	err     error // the first error the Store gave
	readErr error // reading the body, or a COPY's source, failed
	bodyEnd bool  // the body was read to io.EOF
}

// stateOf is the request's state; a call without one (nil) keeps nothing.
func stateOf(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

func (s *state) fail(err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *state) readFailed(err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr == nil {
		s.readErr = err
	}
	if s.err == nil {
		s.err = err
	}
}

// complete is nil when a write may be put in place: nothing it read
// failed, and a PUT's body reached its end.
func (s *state) complete() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.readErr != nil:
		return errors.Join(files.ErrIncomplete, s.readErr)
	case s.put && !s.bodyEnd:
		return files.ErrIncomplete
	}
	return nil
}

// body is a PUT's body, held to files' idle rule (files.IdleBody): it
// tells the state how it ended.
type body struct {
	r  io.Reader
	rc io.Closer
	st *state
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	switch {
	case err == io.EOF:
		b.st.mu.Lock()
		b.st.bodyEnd = true
		b.st.mu.Unlock()
	case err != nil:
		b.st.readFailed(err)
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// statusFix corrects webdav's statuses where the Store said more: webdav
// answers most failures 403, 404 or 405 whatever they were, and a file too
// large, a body cut off or a refused name deserve their own status.
type statusFix struct {
	http.ResponseWriter
	st    *state
	wrote bool
}

func (f *statusFix) WriteHeader(code int) {
	if !f.wrote && code >= 400 {
		f.st.mu.Lock()
		err := f.st.err
		f.st.mu.Unlock()
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrNotExist) && (f.st.method == "MOVE" || f.st.method == "COPY"):
			// The source was there (ServeHTTP made sure): it is the
			// destination's folder that is not (RFC 4918, 9.8.5, 9.9.4).
			code = http.StatusConflict
		default:
			switch s := files.HTTPStatus(err); s {
			case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestTimeout,
				http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable:
				code = s
			}
		}
	}
	f.wrote = true
	f.ResponseWriter.WriteHeader(code)
}

func (f *statusFix) Write(b []byte) (int, error) {
	f.wrote = true
	return f.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (f *statusFix) Unwrap() http.ResponseWriter { return f.ResponseWriter }
