// Package server is filehub's server: it parses the configuration (flags
// and FILEHUB_ variables), builds the component graph (files, hub, drops,
// echo, watch, cluster and web), lists the routes and owns the lifetime:
// listen, serve, drain and shut down in one order. It is the only package
// that knows all the others; main only starts it and exits.
package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filehub/cluster"
	"filehub/drops"
	"filehub/echo"
	"filehub/files"
	"filehub/hub"
	"filehub/watch"
	"filehub/web"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"
)

// ExitCode reports what Run returned, in one line, and returns the status
// to exit with: 0 after success and -h, 2 for a mistake in how filehub was
// started (a flag, an environment variable, the folder), 1 for a failure
// while running (a port in use, a failed -healthcheck).
func ExitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "filehub:", ue.err)
		if ue.hint {
			fmt.Fprintln(stderr, "Run 'filehub -h' for usage.")
		}
		return 2
	}
	fmt.Fprintln(stderr, "filehub:", err)
	return 1
}

// shutdownTimeout bounds a graceful stop: sessions get 1001 and in-flight
// requests finish, or are cut when it runs out.
const shutdownTimeout = 10 * time.Second

// cutWait bounds the wait, after shutdownTimeout, for the handlers of the
// requests that were cut to return.
const cutWait = 5 * time.Second

// inflight counts the requests being handled, for a shutdown that had to
// cut connections to wait for their handlers.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n comes to 0; nil until wait asks
}

func (f *inflight) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.n++
		f.mu.Unlock()
		defer f.done()
		h.ServeHTTP(w, r)
	})
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n--; f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
}

// wait returns once no request is being handled, or with ctx's error.
func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return nil
	}
	if f.zero == nil {
		f.zero = make(chan struct{})
	}
	zero := f.zero
	f.mu.Unlock()
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newLogger builds the one logger of the process; parseFlags has checked
// level and format.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, badUsage(false, "-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// Run is the whole program: it returns when ctx ends (nil after a clean
// shutdown) or when the server cannot start or fails. A *usageError says
// that the way it was started is wrong; flag.ErrHelp that it printed -h.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, getenv, stdout)
	if err != nil {
		return err
	}
	if cfg.PrintVersion {
		fmt.Fprintln(stdout, "filehub", version())
		return nil
	}
	if cfg.Healthcheck != "" {
		return healthcheck(ctx, cfg, stdout)
	}
	log, err := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	s, err := New(ctx, cfg, getenv, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.stop(nil)
		return err // "listen tcp 127.0.0.1:8080: bind: address already in use"
	}
	return s.Serve(ctx, ln, stdout)
}

// Server is filehub's component graph: built by New, served by Serve,
// stopped by stop, in the one order written there.
type Server struct {
	cfg     Config
	log     *slog.Logger
	folder  string // absolute
	tls     *tls.Config
	proxies []netip.Prefix
	reg     *prometheus.Registry

	store   *files.Store
	nodes   *cluster.Broker // nil: this process alone
	hub     *hub.Hub
	echo    *echo.Echo
	watcher *watch.Watcher // started by Serve; nil with Watch off
	mux     http.Handler   // routes: the whole surface, without middleware
	gate    *tokenGate     // nil without a Token
	cop     *http.CrossOriginProtection

	ready   atomic.Bool
	running inflight
	lan     atomic.Pointer[func() []string] // set by Serve: the listener's LAN URLs
}

// New builds the component graph of cfg, which needs no flags (a test
// fills one); getenv is asked for the default state folder of the drop
// links ($XDG_STATE_HOME, $HOME; nil: none set), log defaults to
// discarding. Nothing listens until Serve. On error, what was built is
// closed.
func New(ctx context.Context, cfg Config, getenv func(string) string, log *slog.Logger) (_ *Server, err error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.stop(nil)
		}
	}()
	if s.proxies, err = parsePrefixes(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	if s.folder, err = checkFolder(cfg.Root); err != nil {
		return nil, err
	}
	if cfg.TLSCert != "" {
		// Loaded now, so that a missing or bad file stops the start with a
		// clear line instead of failing inside Serve once listening.
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, badUsage(false, "TLS: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	// Outside the gate: a cross-site form must not spend a visitor's tries
	// at the login form, nor lock them out.
	s.cop = http.NewCrossOriginProtection() // refuses cross-site PUT and POST from browsers
	for _, origin := range cfg.AllowOrigins {
		if origin != "*" {
			if err := s.cop.AddTrustedOrigin(origin); err != nil {
				return nil, badUsage(false, "-allow-origin: %w", err)
			}
		}
	}
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.store, err = files.Open(cfg.Root, files.Config{
		ShowHidden:      cfg.ShowHidden,
		Uploads:         cfg.Upload && !cfg.ReadOnly,
		ReadOnly:        cfg.ReadOnly,
		MaxUpload:       cfg.MaxUpload,
		BodyIdleTimeout: cfg.BodyIdleTimeout,
		Logger:          log.With("component", "files"),
	})
	if err != nil {
		return nil, badUsage(false, "folder %s: %w", cfg.Root, rootCause(err))
	}
	hubMetrics := hub.NewMetrics(s.reg)
	var broker hub.Broker // none: this process alone
	if cfg.NATS != "" {
		if s.nodes, err = connectCluster(ctx, cfg, log.With("component", "cluster")); err != nil {
			return nil, err
		}
		broker = s.nodes
	}
	// No Token: the gate below is the only keeper of the token, for /ws
	// and /_/echo as for every other door.
	s.hub = hub.New(s.store, hub.Config{
		Broker:       broker,
		AllowOrigins: cfg.AllowOrigins,
		Version:      version(),
		Logger:       log.With("component", "hub"),
		Metrics:      hubMetrics,
		Rate:         rate.Limit(cfg.Rate),         // zero: the hub's default
		Burst:        int(math.Ceil(2 * cfg.Rate)), // zero: the hub's default
	})
	h := s.hub
	// The files handler tells the room's feed of what it serves; files
	// never imports hub.
	fh := files.Handler(s.store, files.Hooks{
		OnFetch:          h.RecordFetch,
		OnUpload:         h.RecordUpload,
		OnUploadProgress: h.RecordUploadProgress,
		OnUploadAbort:    h.RecordUploadAbort,
		OnShare:          h.ShareUpload,
	})
	// Drop links: kept in NATS when there are several nodes, else in a
	// state file outside the served folder. Their uploads reach the feed
	// through hooks, as the files handler's do; drops never imports hub.
	var keeper drops.Keeper
	if s.nodes != nil {
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		keeper, err = s.nodes.DropKeeper(kctx)
		cancel()
	} else {
		keeper, err = dropState(cfg, s.folder, getenv, log)
	}
	if err != nil {
		return nil, err
	}
	links := drops.New(drops.Config{Keeper: keeper, Logger: log.With("component", "drops")})
	dropDoors := drops.NewHandlers(links, s.store, web.DropPage, drops.Hooks{
		OnUpload: func(l drops.Link, res files.PutResult) { h.RecordDropUpload(dropLink(l), res) },
		OnUploadProgress: func(l drops.Link, path string, received, size int64) {
			h.RecordDropProgress(dropLink(l), path, received, size)
		},
		OnUploadAbort: func(l drops.Link, path string, received int64, err error) {
			h.RecordDropAbort(dropLink(l), path, received, err)
		},
	})
	s.echo = echo.New(echo.Config{AllowOrigins: cfg.AllowOrigins, Logger: log.With("component", "echo")})

	s.mux = routes(routeDeps{
		files: fh, hub: h, echo: s.echo, ready: &s.ready, metrics: metricsHandler(cfg.Metrics, s.reg), pprof: cfg.Pprof,
		cluster: broker,
		drops:   dropDoors,
		info: infoHandler(filepath.Base(s.folder), func() []string {
			if lan := s.lan.Load(); lan != nil {
				return (*lan)()
			}
			return nil
		}),
	})
	if cfg.Token != "" {
		refusals := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "filehub", Name: "token_refusals_total",
			Help: "Requests refused by the access-token gate, by reason (token: missing or wrong; rate_limited: the client's network is locked out; origin: a cross-site WebSocket).",
		}, []string{"reason"})
		s.reg.MustRegister(refusals)
		s.gate = newTokenGate(gateConfig{
			Token:        cfg.Token,
			AllowOrigins: cfg.AllowOrigins,
			Login:        web.Login,
			Logger:       log.With("component", "gate"),
			OnRefuse: func(r *http.Request, reason string) {
				refusals.WithLabelValues(reason).Inc()
				if r.URL.Path == "/ws" { // the hub's own count of refused joins, which no longer sees these
					hubMetrics.HandshakeRefusals.WithLabelValues(reason).Inc()
				}
			},
		})
	}
	return s, nil
}

// handler is the routes inside the middleware, outermost last: the token
// gate, cross-origin protection, the Host guard (on a loopback address),
// the trusted proxies and the access log, the count of running requests.
func (s *Server) handler(bound *net.TCPAddr) (http.Handler, bool) {
	handler := s.mux
	if s.gate != nil {
		handler = s.gate.wrap(handler)
	}
	handler = s.cop.Handler(handler)
	guarded := bound.IP.IsLoopback() && !slices.Contains(s.cfg.AllowHosts, "*")
	if guarded {
		handler = hostGuard(s.cfg.AllowHosts, s.log.With("component", "http"), handler)
		if len(s.proxies) > 0 && len(s.cfg.AllowHosts) == 0 {
			s.log.Warn("listening on loopback behind a proxy: requests for the proxy's public name get 421 until it is given with -allow-host")
		}
	}
	handler = trustProxies(s.proxies, accessLog(s.log.With("component", "http"), handler))
	return s.running.wrap(handler), guarded
}

// Serve serves on ln until ctx ends, then drains and stops everything New
// built (stop); it closes ln. It prints the address to stdout once ready.
func (s *Server) Serve(ctx context.Context, ln net.Listener, stdout io.Writer) error {
	// After listening (a port in use stops the start before a long walk of
	// the tree), before serving: what lands in the folder once a page can
	// connect reaches it. Each node watches the folder it serves; changes
	// never travel between nodes.
	if s.cfg.Watch {
		var err error
		s.watcher, err = watch.Start(s.folder, s.store, s.hub.FolderChanged, watch.Config{
			Limit:    s.cfg.WatchLimit,
			Interval: s.cfg.WatchInterval,
			Logger:   s.log.With("component", "watch"),
			Metrics:  watch.NewMetrics(s.reg),
		})
		if err != nil {
			ln.Close()
			s.stop(nil)
			return err
		}
	}
	bound := ln.Addr().(*net.TCPAddr)
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	listenHost, _, err := net.SplitHostPort(s.cfg.Addr) // checked by parseFlags
	if err != nil {
		listenHost = bound.IP.String() // a Config without Addr, from a test
	}
	lan := func() []string { return lanURLs(scheme, listenHost, bound.Port) }
	s.lan.Store(&lan)

	handler, guarded := s.handler(bound)
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	// Shutdown ignores hijacked connections: the hub closes its sessions
	// with 1001 itself, first, so pages reconnect elsewhere or later.
	srv.RegisterOnShutdown(s.hub.Shutdown)
	// Resumable uploads save what they hold now, not when the process ends.
	srv.RegisterOnShutdown(s.store.StopUploads)
	srv.RegisterOnShutdown(s.echo.Close)

	// Ready before the address is printed: whoever reads it (a user, a
	// script, a test) and asks /_/readyz at once is told the truth. The
	// listener is open, so connections made before Serve runs wait in its
	// backlog.
	s.ready.Store(true)
	if bound.IP.IsUnspecified() {
		// "[::]:8080" is no address to visit: name this machine for its
		// user, and each of its network addresses for everyone else.
		fmt.Fprintf(stdout, "filehub serving %s at %s://localhost:%d/\n", s.folder, scheme, bound.Port)
		for _, u := range lan() {
			fmt.Fprintf(stdout, "  on your network: %s\n", u)
		}
	} else {
		fmt.Fprintf(stdout, "filehub serving %s at %s://%s/\n", s.folder, scheme, bound)
	}
	s.log.Info("listening", "addr", bound.String(), "root", s.folder, "uploads", s.cfg.Upload && !s.cfg.ReadOnly,
		"tls", s.tls != nil, "token", s.cfg.Token != "", "host_guard", guarded)

	serveErr := make(chan error, 1)
	go func() {
		if s.tls != nil {
			serveErr <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		serveErr <- srv.Serve(ln)
	}()
	select {
	case err := <-serveErr:
		s.stop(srv)
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Not ready from now on: a load balancer polling /_/readyz stops sending
	// new clients during the drain, while this node still serves.
	s.ready.Store(false)
	s.log.Info("shutting down", "drain", s.cfg.Drain)
	if s.cfg.Drain > 0 {
		t := time.NewTimer(s.cfg.Drain)
		select {
		case <-t.C:
		case err := <-serveErr:
			t.Stop()
			s.stop(srv)
			return fmt.Errorf("serve: %w", err)
		}
	}
	if err := s.stop(srv); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// stop ends what New and Serve started, each part once, in this order
// (srv is nil when the server never served):
//
//  1. srv.Shutdown, which first runs the RegisterOnShutdown hooks: the hub
//     closes every session with 1001 (Shutdown ignores hijacked
//     connections), the store saves its resumable uploads, the echo
//     endpoint closes its sessions. In-flight requests then finish, or
//     are cut after shutdownTimeout, and their handlers waited for;
//  2. the watcher: nothing more for the rooms, which are closing;
//  3. the hub, waiting for its goroutines (bounded by what is left of
//     the shutdown's time);
//  4. the echo endpoint, waiting for the close begun in 1;
//  5. the cluster, after the hub: the sessions leave first;
//  6. the store.
func (s *Server) stop(srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			// Requests still running after their 10 s (an upload sending
			// slowly) are cut, as promised; their handlers then clean up (an
			// upload removes its temp file) before the process exits.
			s.log.Warn("shutdown: cutting the requests still running", "after", shutdownTimeout)
			srv.Close()
			cctx, ccancel := context.WithTimeout(context.Background(), cutWait)
			defer ccancel()
			if werr := s.running.wait(cctx); werr != nil {
				s.log.Warn("shutdown: requests still running after the cut", "err", werr)
			}
			ctx, err = cctx, nil
		}
	}
	if s.watcher != nil {
		s.watcher.Close()
	}
	if s.hub != nil {
		if herr := s.hub.Close(ctx); err == nil {
			err = herr
		}
	}
	if s.echo != nil {
		s.echo.Close()
	}
	if s.nodes != nil {
		s.nodes.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
	return err
}

// dropLink is a drop link as the room sees it upload.
func dropLink(l drops.Link) hub.DropLink {
	return hub.DropLink{Room: l.Room, Ref: drops.Ref(l.ID), Label: l.Label}
}

// dropState opens the state file of the drop links of folder: in
// -state-dir, else in the user's state folder ($XDG_STATE_HOME/filehub,
// ~/.local/state/filehub), one file per served folder. The file holds the
// links' ids, each a key, so it is never inside the served folder, where
// some configuration (-show-hidden) could serve it: an explicit -state-dir
// there is refused, and a default one there (a server of the home folder)
// leaves the links in memory, with a warning, as does having no home, or
// one where the default folder cannot be made.
func dropState(o Config, folder string, getenv func(string) string, log *slog.Logger) (drops.Keeper, error) {
	dir := o.StateDir
	if dir == "" {
		switch {
		case getenv("XDG_STATE_HOME") != "":
			dir = filepath.Join(getenv("XDG_STATE_HOME"), "filehub")
		case getenv("HOME") != "":
			dir = filepath.Join(getenv("HOME"), ".local", "state", "filehub")
		default:
			log.Warn("drop links are kept in memory and do not survive a restart: no home folder; set -state-dir")
			return drops.Memory(), nil
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, badUsage(false, "-state-dir %s: %w", dir, err)
	}
	if within(folder, abs) {
		if o.StateDir != "" {
			return nil, badUsage(false, "-state-dir %s is inside the served folder %s, which would serve the drop links' keys; choose a folder outside it", dir, folder)
		}
		log.Warn("drop links are kept in memory and do not survive a restart: the default state folder is inside the served folder; set -state-dir",
			"state_dir", abs)
		return drops.Memory(), nil
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		if o.StateDir == "" {
			// A home this user cannot write: HOME=/ under docker run
			// --user or a systemd DynamicUser, a read-only system. Not a
			// reason to refuse to serve; -state-dir, if given, is.
			log.Warn("drop links are kept in memory and do not survive a restart: the default state folder cannot be made; set -state-dir",
				"state_dir", abs, "err", rootCause(err))
			return drops.Memory(), nil
		}
		return nil, badUsage(false, "-state-dir %s: %w", dir, rootCause(err))
	}
	sum := sha256.Sum256([]byte(folder))
	file := filepath.Join(abs, "drops-"+hex.EncodeToString(sum[:8])+".json")
	k, err := drops.OpenFile(file)
	if err != nil {
		return nil, badUsage(false, "-state-dir: %w", err)
	}
	log.Debug("drop links kept in", "file", file)
	return k, nil
}

// within tells whether dir is folder or inside it, with the symlinks of
// the part of each that exists resolved.
func within(folder, dir string) bool {
	folder, dir = realPath(folder), realPath(dir)
	rel, err := filepath.Rel(folder, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// realPath resolves the symlinks of the longest part of the absolute path
// p that exists, and keeps the rest as it is.
func realPath(p string) string {
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// logPath is a request's path as the logs keep it: a drop link's id is
// the key to it, so it is replaced by the link's Ref ("/_/drop/~1a2b3c4d/x").
func logPath(p string) string {
	for _, prefix := range []string{"/_/drop/", "/_/drops/"} {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok || rest == "" {
			continue
		}
		id, tail, more := strings.Cut(rest, "/")
		out := prefix + "~" + drops.Ref(id)
		if more {
			out += "/" + tail
		}
		return out
	}
	return p
}

// connectCluster connects to NATS for -nats. It fails, rather than falling
// back to serving alone, when NATS cannot be reached: a node that thinks it
// is the whole room would split it.
func connectCluster(ctx context.Context, o Config, log *slog.Logger) (*cluster.Broker, error) {
	node := o.Node
	if node == "" {
		var err error
		if node, err = os.Hostname(); err != nil {
			return nil, badUsage(true, "-node: no host name to default to (%v); give one", err)
		}
	}
	var nopts []nats.Option
	if o.NATSCreds != "" {
		nopts = append(nopts, nats.UserCredentials(o.NATSCreds))
	}
	if o.NATSCA != "" {
		nopts = append(nopts, nats.RootCAs(o.NATSCA))
	}
	if o.NATSCert != "" {
		nopts = append(nopts, nats.ClientCert(o.NATSCert, o.NATSKey))
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := cluster.Connect(cctx, cluster.Config{
		URL: o.NATS, Node: node, Options: nopts, Replicas: o.NATSReplicas, NodeTTL: o.NATSNodeTTL,
		HistorySize: o.NATSHistory, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	log.Info("joined the cluster", "node", node, "instance", b.Node())
	return b, nil
}

// checkFolder returns the absolute path of the folder to serve, or says in
// one line why it cannot be served.
func checkFolder(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", badUsage(false, "folder %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", badUsage(false, "folder %s: %w", root, rootCause(err))
	}
	if !fi.IsDir() {
		return "", badUsage(false, "folder %s: not a folder", root)
	}
	return abs, nil
}

// rootCause is the innermost error of a chain of path operations: "no such
// file or directory" rather than each operation that met it, since the
// message names the path once already.
func rootCause(err error) error {
	var pe *fs.PathError
	for errors.As(err, &pe) {
		err = pe.Err
	}
	return err
}

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
func infoHandler(folder string, urls func() []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body := struct {
			Folder string   `json:"folder"`
			URLs   []string `json:"urls"`
		}{folder, urls()}
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

// healthcheckTimeout bounds -healthcheck: far more than a live server on
// the same machine takes, well under Docker's default HEALTHCHECK timeout
// of 30 s, so the check fails by itself rather than being killed.
const healthcheckTimeout = 5 * time.Second

// healthcheck is -healthcheck: one GET, success on a 2xx answer. It needs
// no shell and no curl, so it works in a distroless image.
func healthcheck(ctx context.Context, o Config, stdout io.Writer) error {
	target, own, err := healthURL(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if own && o.TLSCert != "" {
		// Our own address is 127.0.0.1, which the certificate does not
		// name: trust exactly our own certificate instead of a name.
		pin, err := certDER(o.TLSCert)
		if err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{
			InsecureSkipVerify: true, // replaced by VerifyConnection's pin
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, pin) {
					return errors.New("the server's certificate is not -tls-cert")
				}
				return nil
			},
		}
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("healthcheck %s: %s", target, resp.Status)
	}
	fmt.Fprintf(stdout, "healthcheck %s: %s\n", target, resp.Status)
	return nil
}

// healthURL is the URL -healthcheck asks; own when it is built from a path
// and this configuration's own address (127.0.0.1 for one that listens on
// every interface), so that a container whose FILEHUB_ADDR changes the
// port still checks the right one.
func healthURL(o Config) (target string, own bool, err error) {
	if !strings.HasPrefix(o.Healthcheck, "/") {
		return o.Healthcheck, false, nil
	}
	host, port, _ := net.SplitHostPort(o.Addr) // checked by parseFlags
	if port == "0" {
		// Not a usage error: Docker reserves status 2, a check says 0 or 1.
		return "", false, fmt.Errorf("-healthcheck %s: the server's port is 0 (any free one): give a whole URL", o.Healthcheck)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	scheme := "http"
	if o.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + o.Healthcheck, true, nil
}

// certDER reads the first certificate of a PEM file.
func certDER(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%s: no certificate", file)
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}

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
	// Drop links. The owner's doors need the token, like every door; the
	// guest's (/_/drop/…) are open in the gate (doorOf): the id is the key.
	mux.Handle("POST /_/drops", d.drops.Create)
	mux.Handle("GET /_/drops", d.drops.List)
	mux.Handle("DELETE /_/drops/{id}", d.drops.Revoke)
	mux.Handle("GET /_/drop/{id}", d.drops.Page)
	mux.Handle("GET /_/drop/{id}/{name...}", d.drops.Other)
	mux.Handle("PUT /_/drop/{id}/{name...}", d.drops.Upload)
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
