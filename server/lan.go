package server

// This machine's addresses on its networks: for the lines printed at the
// start and for GET /_/info.

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strconv"
)

// lanURLs lists a URL for each address of this machine that others on its
// networks can use (neither loopback nor link-local), when the server
// listens on every interface: host "" or "::" (IPv4 and IPv6, as Go
// listens on both) or "0.0.0.0" (IPv4 only, as asked). Otherwise none.
// IPv4 first: the shortest to type and the likeliest to work.
func lanURLs(scheme, host string, port int) []string {
	var v4only bool
	switch host {
	case "", "::":
	case "0.0.0.0":
		v4only = true
	default:
		return nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var v4, v6 []string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		// Link-local addresses need a zone (%eth0) that browsers refuse.
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
			continue
		}
		u := scheme + "://" + net.JoinHostPort(ip.String(), strconv.Itoa(port)) + "/"
		switch {
		case ip.Is4():
			v4 = append(v4, u)
		case !v4only:
			v6 = append(v6, u)
		}
	}
	return append(v4, v6...)
}

// infoHandler answers GET /_/info: the served folder's name, for the page
// to name its root after, and the URLs by which others on the network
// reach this server (none unless it listens on every interface), for its
// invitations. They are listed at each request: a laptop changes networks.
// open says the server has no token and r comes from another machine: the
// page then tells its visitor that everyone on the network reads here.
func infoHandler(folder string, urls func() []string, open func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := struct {
			Folder string   `json:"folder"`
			URLs   []string `json:"urls"`
			Open   bool     `json:"open,omitempty"` // no token, and r is from another machine: the page warns
		}{folder, urls(), open(r)}
		if body.URLs == nil {
			body.URLs = []string{}
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(body)
	})
}
