package server

// The whole HTTP surface in one function (routes), and the small
// handlers that belong to no other package.

import (
	"io"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"

	"filehub/dav"
	"filehub/drops"
	"filehub/echo"
	"filehub/hub"
	"filehub/links"
	"filehub/web"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routeDeps is what the routes serve.
type routeDeps struct {
	files   http.Handler
	hub     *hub.Hub
	echo    *echo.Echo
	ready   *atomic.Bool
	metrics http.Handler // nil: -metrics=false
	pprof   bool
	info    http.Handler
	cluster hub.Broker // nil: a single node
	drops   drops.Handlers
	search  http.Handler // GET /_/search
	thumbs  http.Handler
	dav     http.Handler // the folder over WebDAV, at dav.Prefix
	links   links.Handlers
}

// routes lists the whole HTTP surface.
func routes(d routeDeps) http.Handler {
	mux := http.NewServeMux()
	fh := d.files
	page := web.Handler()
	mux.Handle("GET /{$}", rootHandler(page, fh))
	mux.Handle("GET /_/static/", page)
	mux.HandleFunc("GET /_/healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /_/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			plain(w, http.StatusServiceUnavailable, "shutting down")
			return
		}
		if d.cluster != nil {
			if err := d.cluster.Err(); err != nil {
				// Sessions here go on; new ones belong on a node that can
				// reach the cluster.
				plain(w, http.StatusServiceUnavailable, "cluster unavailable: "+err.Error())
				return
			}
		}
		plain(w, http.StatusOK, "ready")
	})
	mux.Handle("GET /_/info", d.info)
	if d.metrics != nil {
		mux.Handle("GET /_/metrics", d.metrics)
	}
	if d.pprof {
		mux.Handle("GET /_/debug/pprof/", pprofHandler())
	}
	mux.Handle("GET /_/echo", d.echo)
	mux.Handle("GET /_/search", d.search)
	// Drop links. The owner's doors need the token, like every door; the
	// guest's (/_/drop/…) are open in the gate (doorOf): the id is the key.
	mux.Handle("POST /_/drops", d.drops.Create)
	mux.Handle("GET /_/drops", d.drops.List)
	mux.Handle("DELETE /_/drops/{id}", d.drops.Revoke)
	mux.Handle("GET /_/drop/{id}", d.drops.Page)
	mux.Handle("GET /_/drop/{id}/{name...}", d.drops.Other)
	mux.Handle("PUT /_/drop/{id}/{name...}", d.drops.Upload)
	// Share links, the same way round: the owner's doors behind the token,
	// the guest's (/_/link/…) open in the gate, the id the key.
	mux.Handle("POST /_/links", d.links.Create)
	mux.Handle("GET /_/links", d.links.List)
	mux.Handle("DELETE /_/links/{id}", d.links.Revoke)
	mux.Handle("GET /_/link/{id}", d.links.Page)
	mux.Handle("POST /_/link/{id}", d.links.Unlock)
	mux.Handle("GET /_/link/{id}/{name...}", d.links.Get)
	// WebDAV: every method it answers, on the mount point and under it
	// (a bare pattern would clash with GET /{path...}).
	for _, m := range dav.Methods {
		mux.Handle(m+" "+dav.Prefix, d.dav)
		mux.Handle(m+" "+dav.Prefix+"/", d.dav)
	}
	// Thumbnails of images: the file's path rules and the token, as the
	// file itself.
	mux.Handle("GET /_/thumb/{path...}", d.thumbs)
	mux.Handle("GET /ws", d.hub)
	mux.Handle("GET /{path...}", fh)
	mux.Handle("PUT /{path...}", fh)
	return mux
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// pprofHandler serves Go's profiles under /_/debug/pprof/ for -pprof;
// net/http/pprof expects /debug/pprof/, hence the stripped prefix.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return http.StripPrefix("/_", mux)
}

// metricsHandler serves reg in Prometheus' format, or nil when turned off.
func metricsHandler(on bool, reg *prometheus.Registry) http.Handler {
	if !on {
		return nil
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// rootHandler serves the page at / to browsers, and the root listing to
// clients that ask for JSON, or the whole folder as a zip for /?zip.
func rootHandler(page, listing http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") || r.URL.Query().Has("zip") {
			listing.ServeHTTP(w, r)
			return
		}
		page.ServeHTTP(w, r)
	})
}
