// Package origin is the one rule for which browser origins may open the
// server's WebSocket doors (/ws and /_/echo): no Origin header (not a
// browser), the server's own (the same host and port as the request's
// Host, which the Host guard vouches for on loopback), or one the
// configuration allows. Go's http.CrossOriginProtection covers the other
// unsafe requests; a WebSocket handshake is a GET, so it needs this.
package origin

import (
	"net/http"
	"net/url"
	"strings"
)

// Allowed reports whether r's Origin may open a WebSocket: absent, the
// server's own, or one of allow (scheme://host[:port], compared without
// case; "*" allows any).
func Allowed(r *http.Request, allow []string) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range allow {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), o) {
			return true
		}
	}
	return false
}
