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
	"fmt"
	"errors"
	"io"
	"os"
	"log/slog"
	"net/http"
	"net/url"
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
	// OnWrite is called once a file written through WebDAV (PUT, COPY, a
	// LOCK of a new name) is in place, before the answer is written. It
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
	case "COPY", "MOVE":
		dst, err := h.destination(r)
		if err != nil {
			h.fail(w, r, err)
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
	st := &state{r: r, put: r.Method == "PUT"}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	if st.put {
		rc := http.NewResponseController(w)
		r.Body = &body{rc: r.Body, st: st, ctl: rc, idle: h.cfg.BodyIdleTimeout}
		defer rc.SetReadDeadline(time.Time{})
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
	r   *http.Request
	put bool // the body is the upload: a write is complete only once it was read to its end

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

// body is a PUT's body: it tells the state how it ended, and cuts a body
// that stopped arriving (BodyIdleTimeout), as files does for its PUT.
type body struct {
	rc   io.ReadCloser
	st   *state
	ctl  *http.ResponseController
	idle time.Duration
	last time.Time // when the read deadline was last moved
}

func (b *body) Read(p []byte) (int, error) {
	if b.idle > 0 {
		// Moved at most every eighth of the timeout: one system call per
		// read would cost more than the read.
		if now := time.Now(); now.Sub(b.last) > b.idle/8 {
			b.ctl.SetReadDeadline(now.Add(b.idle))
			b.last = now
		}
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.st.mu.Lock()
		b.st.bodyEnd = true
		b.st.mu.Unlock()
	case err != nil:
		if isTimeout(err) {
			err = errors.Join(files.ErrIdle, files.ErrIncomplete, err)
		}
		b.st.readFailed(err)
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// isTimeout reports whether err is a read deadline that passed.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &t) && t.Timeout()
}

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
		if err != nil {
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
