package thumbs

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"filehub/files"
)

// ServeHTTP answers GET and HEAD of a thumbnail. The file's name is the
// request's "path" wildcard (mount it as "GET /_/thumb/{path...}"), the
// size ?s= (one of Sizes; DefaultSize without it). Other query parameters
// are ignored: a page may add the file's modification time (?v=) so that a
// changed file's thumbnail has a new URL and no cache shows the old one.
//
//   - 200: image/jpeg, with an ETag and "Cache-Control: private,
//     max-age=…" (Config.MaxAge); 304 when If-None-Match names the ETag,
//     answered without making or reading the thumbnail.
//   - 400: a name no file can have (files.ErrBadPath) or a size not
//     offered.
//   - 404: whatever the Store would not serve as a file (missing, hidden,
//     reserved, a link that leaves the folder, a FIFO) and folders.
//   - 415: a file the Store serves but that has no thumbnail: not a JPEG,
//     PNG, GIF or WebP, broken, or over the size or pixel limits. The page
//     shows a type icon instead.
//   - 503 with Retry-After: the file kept changing while its thumbnail was
//     made.
//
// The access-token gate and the rest of the middleware are the caller's,
// as for every route.
func (m *Maker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	size := DefaultSize
	if s := r.URL.Query().Get("s"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || !ValidSize(n) {
			m.fail(w, r, ErrBadSize)
			return
		}
		size = n
	}
	for tries := 0; ; tries++ {
		info, err := m.stat(r.PathValue("path"))
		if err != nil {
			m.fail(w, r, err)
			return
		}
		ref := m.refOf(info, size)
		h := w.Header()
		h.Set("ETag", ref.etag)
		h.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(m.cfg.MaxAge/time.Second)))
		if etagMatch(r.Header.Get("If-None-Match"), ref.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		b, err := m.thumb(r.Context(), ref)
		if errors.Is(err, ErrBusy) && tries < maxChanged {
			continue
		}
		if err != nil {
			h.Del("ETag")
			h.Del("Cache-Control")
			m.fail(w, r, err)
			return
		}
		h.Set("Content-Type", "image/jpeg")
		h.Set("X-Content-Type-Options", "nosniff")
		// No modification time: the ETag alone validates, since a
		// thumbnail changes with its size as well as with its file.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
		return
	}
}

// stat describes the file name as the Store serves it: a folder is no
// file here.
func (m *Maker) stat(name string) (files.Info, error) {
	info, err := m.store.Stat(name)
	if err == nil && info.Dir {
		err = fs.ErrNotExist
	}
	return info, err
}

// Status is the HTTP status of an error of Maker: nil is 200, an unknown
// error 500. The Store's errors keep the Store's statuses, except that a
// folder is 404 (it is no image) rather than 400.
func Status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrUnsupported):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrBadSize):
		return http.StatusBadRequest
	case errors.Is(err, ErrBusy), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, files.ErrIsDir):
		return http.StatusNotFound
	}
	return files.HTTPStatus(err)
}

// fail answers err with its status and a generic body; the details go to
// the log. A request that left (its context done) is logged at Debug.
func (m *Maker) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := Status(err)
	level := slog.LevelDebug
	if code >= 500 && r.Context().Err() == nil {
		level = slog.LevelWarn
	}
	m.log.Log(r.Context(), level, "thumbnail failed", "path", r.URL.Path, "status", code, "err", err)
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, strconv.Itoa(code)+" "+strings.ToLower(http.StatusText(code)), code)
}

// etagMatch reports whether an If-None-Match header names etag, by weak
// comparison (RFC 9110 13.1.2), or is "*".
func etagMatch(header, etag string) bool {
	for header != "" {
		header = strings.TrimLeft(header, " \t,")
		if header == "" {
			break
		}
		if header[0] == '*' {
			return true
		}
		header = strings.TrimPrefix(header, "W/")
		if header == "" || header[0] != '"' {
			return false
		}
		end := strings.IndexByte(header[1:], '"')
		if end < 0 {
			return false
		}
		if header[:end+2] == etag {
			return true
		}
		header = header[end+2:]
	}
	return false
}
