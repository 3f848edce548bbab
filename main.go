// Command filehub serves a folder over HTTP and a room over WebSocket on one
// port: browsers join a room, fetch files privately or share them with
// everyone, chat, and watch a live feed of who fetched what.
//
// main.go is the only file that knows files, hub and web: it parses the
// configuration, wires the three together and owns the server's lifetime.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"filehub/files"
	"filehub/hub"
	"filehub/web"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "filehub:", err)
		}
		os.Exit(2)
	}
}

// shutdownTimeout bounds a graceful stop: sessions get 1001 and in-flight
// requests finish, or are cut when it runs out.
const shutdownTimeout = 10 * time.Second

// options is the parsed command line.
type options struct {
	addr, root, token, logLevel, logFormat string
	tlsCert, tlsKey                        string
	upload, showHidden, readOnly, metrics  bool
	printVersion                           bool
	maxUpload                              byteSize
	allowOrigins, trustedProxies           listFlag
	allowHosts                             listFlag
	drain                                  time.Duration
	pprof                                  bool
	rate                                   float64
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	o := options{maxUpload: 1 << 30}
	fs := flag.NewFlagSet("filehub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: filehub [flags]\n\nServes a folder over HTTP and a live room over WebSocket at /ws.\nEvery flag can also be set with the environment variable shown.\n\n")
		fs.PrintDefaults()
	}
	env := func(name, def string) string {
		if v := getenv("FILEHUB_" + name); v != "" {
			return v
		}
		return def
	}
	envBool := func(name string, def bool) bool {
		if b, err := strconv.ParseBool(getenv("FILEHUB_" + name)); err == nil {
			return b
		}
		return def
	}
	fs.StringVar(&o.addr, "addr", env("ADDR", "127.0.0.1:8080"), "address to listen on; port 0 picks a free one (FILEHUB_ADDR)")
	fs.StringVar(&o.root, "root", env("ROOT", "."), "folder to serve (FILEHUB_ROOT)")
	fs.BoolVar(&o.upload, "upload", envBool("UPLOAD", false), "accept uploads with PUT (FILEHUB_UPLOAD)")
	fs.BoolVar(&o.readOnly, "read-only", envBool("READ_ONLY", false), "refuse uploads whatever else is set (FILEHUB_READ_ONLY)")
	fs.Var(&o.maxUpload, "max-upload", "largest upload, in bytes or with a unit: 512MiB, 1GiB (FILEHUB_MAX_UPLOAD; default 1GiB)")
	fs.BoolVar(&o.showHidden, "show-hidden", envBool("SHOW_HIDDEN", false), "serve dotfiles such as .env and .git (FILEHUB_SHOW_HIDDEN)")
	fs.StringVar(&o.token, "token", env("TOKEN", ""), "require this access token on every request; browsers are asked once and keep it in a cookie (FILEHUB_TOKEN)")
	fs.Var(&o.allowHosts, "allow-host", "a Host name to answer besides localhost when listening on a loopback address (behind a proxy: its public name), or * for any; repeat or comma-separate (FILEHUB_ALLOW_HOST)")
	fs.Var(&o.allowOrigins, "allow-origin", "a cross-site origin allowed to join, e.g. https://example.org; repeat or comma-separate; * for any (FILEHUB_ALLOW_ORIGIN)")
	fs.StringVar(&o.logLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (FILEHUB_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", env("LOG_FORMAT", "text"), "text or json (FILEHUB_LOG_FORMAT)")
	fs.BoolVar(&o.metrics, "metrics", envBool("METRICS", true), "serve Prometheus metrics at /_/metrics (behind -token when set) (FILEHUB_METRICS)")
	fs.StringVar(&o.tlsCert, "tls-cert", env("TLS_CERT", ""), "certificate file (PEM): serve HTTPS and WSS on the same port (FILEHUB_TLS_CERT)")
	fs.StringVar(&o.tlsKey, "tls-key", env("TLS_KEY", ""), "private key file (PEM) for -tls-cert (FILEHUB_TLS_KEY)")
	fs.Var(&o.trustedProxies, "trusted-proxy", "CIDR or address of a reverse proxy whose X-Forwarded-For/-Proto are believed; repeat or comma-separate (FILEHUB_TRUSTED_PROXY)")
	fs.DurationVar(&o.drain, "drain", envDuration(getenv, "DRAIN"), "on SIGTERM, answer /_/readyz 503 for this long before closing, so a load balancer drains the node first (FILEHUB_DRAIN)")
	fs.BoolVar(&o.printVersion, "version", false, "print the version and exit")
	fs.BoolVar(&o.pprof, "pprof", envBool("PPROF", false), "serve Go's profiles at /_/debug/pprof/ (behind -token when set), for measuring (FILEHUB_PPROF)")
	fs.Float64Var(&o.rate, "rate", envFloat(getenv, "RATE"), "messages per second each session may send, burst twice that (FILEHUB_RATE; default 20); raise it for load tests")
	if v := getenv("FILEHUB_MAX_UPLOAD"); v != "" {
		if err := o.maxUpload.Set(v); err != nil {
			return o, fmt.Errorf("FILEHUB_MAX_UPLOAD: %w", err)
		}
	}
	if v := getenv("FILEHUB_ALLOW_ORIGIN"); v != "" {
		_ = o.allowOrigins.Set(v)
	}
	if v := getenv("FILEHUB_TRUSTED_PROXY"); v != "" {
		_ = o.trustedProxies.Set(v)
	}
	if v := getenv("FILEHUB_ALLOW_HOST"); v != "" {
		_ = o.allowHosts.Set(v)
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (the folder is -root)", fs.Arg(0))
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return o, errors.New("-tls-cert and -tls-key go together")
	}
	for i, h := range o.allowHosts {
		n, err := normHost(h)
		if err != nil {
			return o, fmt.Errorf("-allow-host: %w", err)
		}
		o.allowHosts[i] = n
	}
	return o, nil
}

// envFloat reads FILEHUB_name as a number; unset or invalid is zero.
func envFloat(getenv func(string) string, name string) float64 {
	f, _ := strconv.ParseFloat(getenv("FILEHUB_"+name), 64)
	return f
}

// envDuration reads FILEHUB_name as a duration; unset or invalid is zero.
func envDuration(getenv func(string) string, name string) time.Duration {
	d, _ := time.ParseDuration(getenv("FILEHUB_" + name))
	return d
}

// newLogger builds the one logger of the process.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}

// run is the whole program: it returns when ctx ends (nil after a clean
// shutdown) or when the server cannot start or fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	if o.printVersion {
		fmt.Fprintln(stdout, "filehub", version())
		return nil
	}
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	proxies, err := parsePrefixes(o.trustedProxies)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var h *hub.Hub
	store, err := files.Open(o.root, files.Config{
		ShowHidden: o.showHidden,
		Uploads:    o.upload && !o.readOnly,
		MaxUpload:  int64(o.maxUpload),
		Logger:     log.With("component", "files"),
		// The hub is built below; files never imports it.
		OnFetch:  func(r *http.Request, path string, n int64) { h.RecordFetch(r, path, n) },
		OnUpload: func(r *http.Request, res files.PutResult) { h.RecordUpload(r, res) },
		OnUploadProgress: func(r *http.Request, path string, received, size int64) {
			h.RecordUploadProgress(r, path, received, size)
		},
		OnUploadAbort: func(r *http.Request, path string, received int64, err error) {
			h.RecordUploadAbort(r, path, received, err)
		},
	})
	if err != nil {
		return fmt.Errorf("-root: %w", err)
	}
	defer store.Close()
	hubMetrics := hub.NewMetrics(reg)
	// No Token: the gate below is the only keeper of the token, for /ws
	// and /_/echo as for every other door.
	h = hub.New(store, hub.Config{
		AllowOrigins: o.allowOrigins,
		Version:      version(),
		Logger:       log.With("component", "hub"),
		Metrics:      hubMetrics,
		Rate:         rate.Limit(o.rate),         // zero: the hub's default
		Burst:        int(math.Ceil(2 * o.rate)), // zero: the hub's default
	})
	echo := h.NewEcho()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var ready atomic.Bool
	handler := routes(routeDeps{store: store, hub: h, echo: echo, ready: &ready, metrics: metricsHandler(o.metrics, reg), pprof: o.pprof})
	if o.token != "" {
		refusals := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "filehub", Name: "token_refusals_total",
			Help: "Requests refused by the access-token gate, by reason (token: missing or wrong; rate_limited: the client's network is locked out; origin: a cross-site WebSocket).",
		}, []string{"reason"})
		reg.MustRegister(refusals)
		handler = newTokenGate(gateConfig{
			Token:        o.token,
			AllowOrigins: o.allowOrigins,
			Login:        web.Login,
			Logger:       log.With("component", "gate"),
			OnRefuse: func(r *http.Request, reason string) {
				refusals.WithLabelValues(reason).Inc()
				if r.URL.Path == "/ws" { // the hub's own count of refused joins, which no longer sees these
					hubMetrics.HandshakeRefusals.WithLabelValues(reason).Inc()
				}
			},
		}).wrap(handler)
	}
	// Outside the gate: a cross-site form must not spend a visitor's tries
	// at the login form, nor lock them out.
	cop := http.NewCrossOriginProtection() // refuses cross-site PUT and POST from browsers
	for _, origin := range o.allowOrigins {
		if origin != "*" {
			if err := cop.AddTrustedOrigin(origin); err != nil {
				return fmt.Errorf("-allow-origin: %w", err)
			}
		}
	}
	handler = cop.Handler(handler)
	bound := ln.Addr().(*net.TCPAddr)
	guarded := bound.IP.IsLoopback() && !slices.Contains(o.allowHosts, "*")
	if guarded {
		handler = hostGuard(o.allowHosts, log.With("component", "http"), handler)
		if len(proxies) > 0 && len(o.allowHosts) == 0 {
			log.Warn("listening on loopback behind a proxy: requests for the proxy's public name get 421 until it is given with -allow-host")
		}
	}
	handler = trustProxies(proxies, accessLog(log.With("component", "http"), handler))
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown ignores hijacked connections: the hub closes its sessions
	// with 1001 itself, first, so pages reconnect elsewhere or later.
	srv.RegisterOnShutdown(h.Shutdown)
	srv.RegisterOnShutdown(echo.Close)

	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "filehub serving %s at %s://%s/\n", o.root, scheme, ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "root", o.root, "uploads", o.upload && !o.readOnly, "tls", o.tlsCert != "",
		"token", o.token != "", "host_guard", guarded)

	serveErr := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			serveErr <- srv.ServeTLS(ln, o.tlsCert, o.tlsKey)
			return
		}
		serveErr <- srv.Serve(ln)
	}()
	ready.Store(true)
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Not ready from now on: a load balancer polling /_/readyz stops sending
	// new clients during the drain, while this node still serves.
	ready.Store(false)
	log.Info("shutting down", "drain", o.drain)
	if o.drain > 0 {
		t := time.NewTimer(o.drain)
		select {
		case <-t.C:
		case err := <-serveErr:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if herr := h.Close(sctx); err == nil {
		err = herr
	}
	echo.Close() // already closing from RegisterOnShutdown; this waits for it
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// routeDeps is what the routes serve.
type routeDeps struct {
	store   *files.Store
	hub     *hub.Hub
	echo    *hub.Echo
	ready   *atomic.Bool
	metrics http.Handler // nil: -metrics=false
	pprof   bool
}

// routes lists the whole HTTP surface.
func routes(d routeDeps) http.Handler {
	mux := http.NewServeMux()
	fh := files.Handler(d.store)
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
		plain(w, http.StatusOK, "ready")
	})
	if d.metrics != nil {
		mux.Handle("GET /_/metrics", d.metrics)
	}
	if d.pprof {
		mux.Handle("GET /_/debug/pprof/", pprofHandler())
	}
	mux.Handle("GET /_/echo", d.echo)
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

// version is the module version stamped by the go command: a tag or
// pseudo-version, or, for a build in a work tree, the commit it was built at.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", ""
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = "+" + s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	return "devel" + rev + dirty
}

// byteSize is a flag holding a size in bytes, written as a number with an
// optional unit (KiB, MiB, GiB, or K, M, G meaning the same).
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size such as 1048576, 512MiB or 1GiB", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// listFlag collects repeated or comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}
