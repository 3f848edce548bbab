package main

// HTTP middleware: trusted proxies, the access log, the access token. None
// of it knows files, hub or web; main.go puts it in front of the routes.

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
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

// tokenGate requires the access token on every request but the few that
// must stay open: health checks, the page's static assets, the login form,
// and /ws and /_/echo, which check the token themselves and answer in the
// protocol's own JSON. A token comes as the filehub_token cookie (set by
// the login form: HttpOnly, SameSite=Strict, so it never appears in a URL)
// or as "Authorization: Bearer" (scripts, Prometheus). Wrong tokens are
// limited per client address.
type tokenGate struct {
	token string
	login func(w http.ResponseWriter, status int, next, msg string) // writes the form
	log   *slog.Logger

	mu       sync.Mutex
	failures map[string]*rate.Limiter // by client address
}

const (
	tokenCookieName = "filehub_token"
	// A client may present 10 wrong tokens at once, then one per 6 s:
	// enough for a person mistyping, far too few for guessing.
	tokenFailRate  = rate.Limit(1.0 / 6)
	tokenFailBurst = 10
	maxFailAddrs   = 10000 // bounded memory under a spray of addresses
)

func newTokenGate(token string, login func(http.ResponseWriter, int, string, string), log *slog.Logger) *tokenGate {
	return &tokenGate{token: token, login: login, log: log, failures: make(map[string]*rate.Limiter)}
}

func (g *tokenGate) valid(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) == 1
}

// presented returns the token a request carries, if any.
func presented(r *http.Request) string {
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		return strings.TrimPrefix(a, "Bearer ")
	}
	if c, err := r.Cookie(tokenCookieName); err == nil {
		return c.Value
	}
	return ""
}

// allowFailure records a wrong token from r's address and reports whether
// that address may still try.
func (g *tokenGate) allowFailure(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	lim := g.failures[host]
	if lim == nil {
		if len(g.failures) >= maxFailAddrs {
			clear(g.failures) // crude, but bounded; a real attack needs a firewall
		}
		lim = rate.NewLimiter(tokenFailRate, tokenFailBurst)
		g.failures[host] = lim
	}
	return lim.Allow()
}

func (g *tokenGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/_/healthz", p == "/_/readyz", strings.HasPrefix(p, "/_/static/"), p == "/ws", p == "/_/echo":
			next.ServeHTTP(w, r)
			return
		case p == "/_/login" && r.Method == http.MethodPost:
			g.handleLogin(w, r)
			return
		}
		got := presented(r)
		if g.valid(got) {
			next.ServeHTTP(w, r)
			return
		}
		if got != "" && !g.allowFailure(r) {
			http.Error(w, "429 too many wrong tokens; wait a minute", http.StatusTooManyRequests)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="filehub"`)
		if r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") {
			g.login(w, http.StatusUnauthorized, r.URL.Path, "")
			return
		}
		http.Error(w, "401 a valid token is required", http.StatusUnauthorized)
	})
}

// handleLogin checks a token typed into the login form and keeps it in a
// cookie, then sends the browser back to the page.
func (g *tokenGate) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := r.PostFormValue("token")
	if !g.valid(tok) {
		if !g.allowFailure(r) {
			http.Error(w, "429 too many wrong tokens; wait a minute", http.StatusTooManyRequests)
			return
		}
		g.log.Info("wrong token at login", "remote", r.RemoteAddr)
		g.login(w, http.StatusUnauthorized, r.PostFormValue("next"), "That token is not right.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: tokenCookieName, Value: tok, Path: "/", MaxAge: 30 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r),
	})
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		next = "/" // only a path on this server: no open redirect
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

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
