package index

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strconv"

	"filehub/files"
	"filehub/refusal"
)

// Handler answers GET /_/search?q=…&limit=…&path=… with a Result as JSON.
// Refusals carry the protocol's refusal body: 400 bad_request (the query,
// the limit, a hostile path), 404 not_found (a folder that is not there
// or hidden), 503 unavailable (the index is off).
func (x *Index) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := 0
		if q.Has("limit") {
			n, err := strconv.Atoi(q.Get("limit"))
			if err != nil || n < 1 {
				refusal.Write(w, http.StatusBadRequest, "bad_request", "limit must be a number from 1 to 1000")
				return
			}
			limit = n
		}
		res, err := x.Search(q.Get("q"), q.Get("path"), limit)
		if err != nil {
			status, code := ErrorCode(err)
			x.log.Debug("search refused", "q", q.Get("q"), "path", q.Get("path"), "err", err)
			refusal.Write(w, status, code, http.StatusText(status))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(res)
	})
}

// ErrorCode is a Search error's HTTP status and protocol error code.
func ErrorCode(err error) (status int, code string) {
	switch {
	case errors.Is(err, ErrOff):
		return http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, ErrBadQuery), errors.Is(err, files.ErrBadPath):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound, "not_found"
	}
	return http.StatusInternalServerError, "internal"
}
