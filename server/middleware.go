package server

// HTTP middleware: trusted proxies, the access log and the Host guard (the
// access token is in gate.go). None of it knows files, hub or web; package
// server puts it in front of the routes.

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/felixge/httpsnoop"
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
// token), never a header value, never a drop link's id (logPath); slog
// quotes control characters.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelInfo) {
			// -log-level warn: not even the wrapper, nor the boxing of
			// the line's values, on the path of every request.
			next.ServeHTTP(w, r)
			return
		}
		// httpsnoop keeps exactly the interfaces w has (ReadFrom for
		// sendfile, Hijack for WebSocket upgrades, Flush) and Unwrap;
		// its metrics skip 1xx statuses, which are interim.
		var hijacked bool
		hw := httpsnoop.Wrap(w, httpsnoop.Hooks{
			Hijack: func(next httpsnoop.HijackFunc) httpsnoop.HijackFunc {
				return func() (net.Conn, *bufio.ReadWriter, error) {
					c, rw, err := next()
					hijacked = hijacked || err == nil
					return c, rw, err
				}
			},
		})
		m := httpsnoop.CaptureMetrics(next, hw, r)
		status := m.Code
		if hijacked {
			status = http.StatusSwitchingProtocols
		}
		log.Info("http", "method", r.Method, "path", logPath(r.URL.Path), "status", status,
			"bytes", m.Written, "duration", m.Duration.Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

// hostGuard answers 421 Misdirected Request to any request whose Host is
// not a loopback name or address, nor one of allow. The server puts it in front
// of everything when the server listens on a loopback address: a web page
// that rebinds its own DNS name to 127.0.0.1 (DNS rebinding) then reaches
// this server from the victim's browser as "same origin", with Host and
// Origin both naming the attacker's site; only the Host tells it apart.
// A server listening on other addresses is meant to be reached by names
// that cannot be known here, so it gets no guard.
func hostGuard(allow []string, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hostAllowed(r.Host, allow) {
			next.ServeHTTP(w, r)
			return
		}
		log.Info("host refused: this server answers only loopback names and -allow-host ones", "host", r.Host, "remote", r.RemoteAddr)
		plain(w, http.StatusMisdirectedRequest, "421 misdirected request: this server answers only localhost names; "+
			"start it with -allow-host NAME to allow another")
	})
}

// hostAllowed reports whether host (a Host header: name or address, with
// an optional port) is a loopback name or address, or a name of allow.
// A name that ends in .localhost always resolves to loopback (RFC 6761), so
// no one else can own it; an IP literal involves no DNS, so it cannot be
// rebound, but only a loopback one reaches a loopback listener honestly.
func hostAllowed(host string, allow []string) bool {
	name := hostName(host)
	if name == "" {
		return false
	}
	if a, err := netip.ParseAddr(name); err == nil {
		if a.Unmap().IsLoopback() {
			return true
		}
		name = a.String() // as -allow-host keeps addresses
	} else if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	for _, a := range allow {
		if a == "*" || a == name {
			return true
		}
	}
	return false
}

// hostName is the lower-case name or address of a Host header, without
// port, brackets or a final dot; "" when there is none.
func hostName(host string) string {
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return ""
		}
		rest := host[end+1:]
		if rest != "" && (rest[0] != ':' || !allDigits(rest[1:])) {
			return ""
		}
		host = host[1:end]
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		if !allDigits(host[i+1:]) {
			return ""
		}
		host = host[:i]
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// normHost accepts "*", a host name or an IP address (no port: any port is
// allowed), and returns it as the Host guard compares it: lower case, no
// final dot, an address in its canonical form.
func normHost(s string) (string, error) {
	if s == "*" {
		return s, nil
	}
	h := strings.ToLower(strings.TrimSuffix(s, "."))
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err == nil {
		return a.String(), nil
	}
	labels := strings.Split(h, ".")
	ok := len(h) > 0 && len(h) <= 253
	for _, l := range labels {
		ok = ok && len(l) > 0 && len(l) <= 63 && l[0] != '-' && l[len(l)-1] != '-'
		for _, c := range []byte(l) {
			ok = ok && ('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_')
		}
	}
	if !ok {
		return "", fmt.Errorf("%q is not a host name such as files.example.org (without a port: any port is allowed)", s)
	}
	return h, nil
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
