package guard

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// BodyConfig configures Bodies. Zero values mean the documented default.
type BodyConfig struct {
	// Timeout bounds the time a request body may take, from the end of
	// the request's head, for every request but those Own says manage
	// their body's time themselves. Defaults to 30 s: the bodies of
	// such routes (a login form, a drop link's settings) are at most a
	// few KiB.
	Timeout time.Duration
	// Own reports the requests whose handler holds its body to a clock of
	// its own (uploads: an idle timeout and a minimum rate, with deadlines
	// it moves itself). May be nil: every body gets Timeout.
	Own func(*http.Request) bool
	// Metrics defaults to collectors registered nowhere.
	Metrics *Metrics
}

// Bodies wraps next so that no request body is waited for without end:
//
//   - a request with a body gets a read deadline Timeout away (unless
//     Own claims it); a body still arriving then fails to read, and the
//     handler answers as for any broken body;
//   - an answer written while the request's body has not been read to its
//     end (a 401, 403, 405, 413 or 421 refusing it before a byte, any
//     answer of a handler that ignores the body) carries
//     "Connection: close": net/http then writes it at once and closes the
//     connection, instead of first reading up to 256 KiB of a body that
//     may never come (which is what held a refused connection open for as
//     long as its client liked).
//
// A request without a body passes untouched, its ResponseWriter too
// (WebSocket upgrades, sendfile of downloads).
func Bodies(next http.Handler, cfg BodyConfig) http.Handler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		b := &body{ReadCloser: r.Body, left: r.ContentLength}
		if cfg.Own == nil || !cfg.Own(r) {
			// net/http sets the connection's read deadline again for the
			// next request, so this one ends with this request.
			if http.NewResponseController(w).SetReadDeadline(time.Now().Add(cfg.Timeout)) == nil {
				b.deadline = true
			}
		}
		r2 := *r
		r2.Body = b
		// HTTP/2 multiplexes: an unread body holds its stream, not the
		// connection, and "Connection: close" would end every other
		// stream's connection (a GOAWAY). Only HTTP/1 closes.
		bw := &bodyWriter{ResponseWriter: w, body: b, m: cfg.Metrics, close: r.ProtoMajor == 1}
		next.ServeHTTP(bw, &r2)
		if b.deadline && b.timedOut.Load() {
			cfg.Metrics.BodiesCut.WithLabelValues("deadline").Inc()
		}
		if !b.done.Load() {
			// net/http closes a body the handler left unread by reading
			// up to 256 KiB of it, after the answer went out: with a
			// deadline already past, that read fails at once and the
			// connection is closed (it could not be reused anyway).
			_ = http.NewResponseController(w).SetReadDeadline(time.Now())
		}
	})
}

// body notes whether it was read to its end: EOF, or its Content-Length
// (a JSON decoder stops at the value's end and never asks for EOF).
type body struct {
	io.ReadCloser
	deadline bool  // Timeout applies
	left     int64 // bytes of Content-Length not read yet; -1: unknown (chunked)
	done     atomic.Bool
	timedOut atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	switch {
	case err == io.EOF, b.left == 0:
		b.done.Store(true)
	case err != nil && b.deadline && errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut.Store(true)
	}
	return n, err
}

// bodyWriter adds "Connection: close" to an answer that leaves its
// request's body unread.
type bodyWriter struct {
	http.ResponseWriter
	body    *body
	m       *Metrics
	close   bool // HTTP/1: the connection is closed after an answer that leaves the body unread
	written bool
}

func (w *bodyWriter) WriteHeader(code int) {
	if !w.written && code >= 200 {
		w.written = true
		if w.close && !w.body.done.Load() {
			w.Header().Set("Connection", "close")
			w.m.BodiesCut.WithLabelValues("refused").Inc()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *bodyWriter) Write(p []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushes, hijacking).
func (w *bodyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush and Hijack keep the interfaces handlers test for directly.
func (w *bodyWriter) Flush() {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *bodyWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
