package main

// HTTP middleware: trusted proxies and the access log (the access token is
// in gate.go). None of it knows files, hub or web; main.go puts it in front
// of the routes.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// trustProxies believes X-Forwarded-For and X-Forwarded-Proto only from the
// given networks: from a trusted peer, RemoteAddr becomes the client the
// proxy saw (the rightmost untrusted address of X-Forwarded-For); from
// anyone else the headers are deleted, so that nothing downstream (the
// feed's addresses, the Secure flag of cookies) can be fooled by them.
func trustProxies(nets []netip.Prefix, next http.Handler) http.Handler {
	trusted := func(a netip.Addr) bool {
		for _, n := range nets {
			if n.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !trusted(peer.Addr()) {
			r.Header.Del("X-Forwarded-For")
			r.Header.Del("X-Forwarded-Proto")
			next.ServeHTTP(w, r)
			return
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a garbled hop: stop believing what is left of it
			}
			r2 := *r
			r2.RemoteAddr = netip.AddrPortFrom(a, 0).String()
			r = &r2
			if !trusted(a) {
				break
			}
		}
		if p := r.Header.Get("X-Forwarded-Proto"); p != "https" && p != "http" {
			r.Header.Del("X-Forwarded-Proto")
		}
		next.ServeHTTP(w, r)
	})
}

// accessLog writes one line per request: never the query (it may carry a
// token) and never a header value; slog quotes control characters.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if rec.hijacked {
			status = http.StatusSwitchingProtocols
		} else if status == 0 {
			status = http.StatusOK
		}
		log.Info("http", "method", r.Method, "path", r.URL.Path, "status", status,
			"bytes", rec.n, "duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

// recorder notes the status and size of a response. It keeps what the
// server's writer can do: ReadFrom (so files still go out with sendfile),
// Hijack (for WebSocket upgrades) and Flush.
type recorder struct {
	http.ResponseWriter
	status   int
	n        int64
	hijacked bool
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *recorder) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, src) // uses the server's ReadFrom: sendfile
	w.n += n
	return n, err
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijack not supported")
	}
	c, rw, err := h.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isHTTPS tells whether the client reached us over TLS, directly or
// through a trusted proxy (trustProxies deletes the header otherwise).
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// parsePrefixes reads CIDRs (or single addresses) for -trusted-proxy.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("-trusted-proxy %q: not a CIDR or an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
