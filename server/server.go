// Package server is filehub's server: it parses the configuration (flags
// and FILEHUB_ variables), builds the component graph (files, hub, drops,
// echo, watch, cluster and web), lists the routes and owns the lifetime:
// listen, serve, drain and shut down in one order. It is the only package
// that knows all the others; main only starts it and exits.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filehub/client"
	"filehub/cluster"
	"filehub/dav"
	"filehub/drops"
	"filehub/echo"
	"filehub/files"
	"filehub/guard"
	"filehub/history"
	"filehub/hub"
	"filehub/index"
	"filehub/internal/waitgroup"
	"filehub/thumbs"
	"filehub/vocab"
	"filehub/watch"
	"filehub/web"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
// cut connections to wait for their handlers (waitgroup.Wait): after the
// cut no request starts, so no Add races that Wait.
type inflight struct{ sync.WaitGroup }

func (f *inflight) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.Add(1)
		defer f.Done()
		h.ServeHTTP(w, r)
	})
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
	if len(args) > 0 && client.IsCommand(args[0]) {
		// filehub send | get | listen: the client, before any flag of the
		// server is parsed.
		err := client.Run(ctx, args, getenv, stdout, stderr)
		var ue *client.UsageError
		if errors.As(err, &ue) {
			return &usageError{err: ue.Err}
		}
		return err
	}
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
	guard   *guard.Metrics

	store   *files.Store
	nodes   *cluster.Broker // nil: this process alone
	history *history.Store  // the rooms' history on disk; nil in memory or with nodes
	hub     *hub.Hub
	echo    *echo.Echo
	thumbs  *thumbs.Maker
	watcher *watch.Watcher // started by Serve; nil with Watch off
	index   *index.Index   // fed by the watcher; nil with Watch off
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
	s.guard = guard.NewMetrics(s.reg)

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
		if s.nodes, err = connectCluster(ctx, cfg, s.reg, log.With("component", "cluster")); err != nil {
			return nil, err
		}
		broker = s.nodes
	}
	var kept hub.HistoryStore // none: the rooms' history in memory
	if broker == nil && cfg.History {
		if s.history, err = openHistory(cfg, s.folder, getenv, log); err != nil {
			return nil, err
		}
		if s.history != nil {
			kept = s.history
		}
	}
	// The folder's index: listings (HTTP and list frames) and search from
	// memory, kept current by the watcher's changes (Serve), so that they
	// never disagree with the fs frames. Without the watcher nothing would
	// keep it current: listings come from the disk, and search is off.
	var lister files.Lister
	var search func(q, path string, limit int) (hub.SearchResult, error)
	if cfg.Watch {
		s.index = index.New(s.store, index.Config{Limit: cfg.IndexLimit, Logger: log.With("component", "index")})
		lister, search = s.index, hubSearch(s.index)
	}
	// No Token: the gate below is the only keeper of the token, for /ws
	// and /_/echo as for every other door.
	s.hub = hub.New(s.store, hub.Config{
		Lister:       lister,
		Search:       search,
		Broker:       broker,
		History:      kept,
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
	fh := reprDigest(s.store, files.Handler(s.store, files.Hooks{
		OnFetch:          h.RecordFetch,
		OnUpload:         h.RecordUpload,
		OnUploadProgress: h.RecordUploadProgress,
		OnUploadAbort:    h.RecordUploadAbort,
		OnShare:          h.ShareUpload,
	}, files.WithListings(files.ListConfig{Lister: lister})))
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
	if s.thumbs, err = thumbMaker(cfg, s.folder, s.store, getenv, s.reg, log); err != nil {
		return nil, err
	}
	shareDoors, err := s.shareLinks(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	// WebDAV writes reach the feed through a hook too; dav never imports hub.
	davDoor := dav.Handler(s.store, dav.Hooks{OnWrite: h.RecordDavUpload}, dav.Config{Logger: log.With("component", "dav")})
	s.echo = echo.New(echo.Config{AllowOrigins: cfg.AllowOrigins, Logger: log.With("component", "echo")})

	s.mux = routes(routeDeps{
		files: fh, hub: h, echo: s.echo, ready: &s.ready, metrics: metricsHandler(cfg.Metrics, s.reg), pprof: cfg.Pprof,
		cluster: broker,
		drops:   dropDoors,
		search:  searchHandler(s.index),
		thumbs:  s.thumbs,
		dav:     davDoor,
		links:   shareDoors,
		info: infoHandler(filepath.Base(s.folder), func() []string {
			if lan := s.lan.Load(); lan != nil {
				return (*lan)()
			}
			return nil
		}, func(r *http.Request) bool { return cfg.Token == "" && !fromLoopback(r) }),
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
// the trusted proxies and the access log, the count of running requests,
// and the bodies' guard (package guard: a deadline on every body but an
// upload's, and an answer written before the body closes the connection
// rather than wait for it).
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
	return guard.Bodies(s.running.wrap(handler), guard.BodyConfig{
		Timeout: s.cfg.BodyTimeout,
		// Every PUT is an upload, held by files' or drops' own clock: an
		// idle timeout and a minimum rate, on deadlines they move.
		Own:     func(r *http.Request) bool { return r.Method == http.MethodPut },
		Metrics: s.guard,
	}), guarded
}

// fromLoopback reports whether r comes from this machine, as the trusted
// proxies have it (RemoteAddr is the client's then).
func fromLoopback(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// Serve serves on ln until ctx ends, then drains and stops everything New
// built (stop); it closes ln. It prints the address to stdout once ready.
func (s *Server) Serve(ctx context.Context, ln net.Listener, stdout io.Writer) error {
	// Bounded per client network and in total, so that one address
	// cannot take every descriptor; a trusted proxy, which stands for all
	// its clients, counts in the total only.
	ln = guard.Listen(ln, guard.ListenerConfig{
		MaxConns:     s.cfg.MaxConns,
		MaxPerClient: s.cfg.MaxConnsPerClient,
		Exempt: func(a netip.Addr) bool {
			return slices.ContainsFunc(s.proxies, func(p netip.Prefix) bool { return p.Contains(a) })
		},
		Metrics: s.guard,
	})
	// After listening (a port in use stops the start before a long walk of
	// the tree), before serving: what lands in the folder once a page can
	// connect reaches it. Each node watches the folder it serves; changes
	// never travel between nodes.
	if s.cfg.Watch {
		var err error
		// The index first: a page that hears of a change and asks for the
		// listing finds it there.
		s.watcher, err = watch.Start(s.folder, s.store, func(cs ...vocab.Change) {
			s.index.Apply(cs...)
			s.hub.FolderChanged(cs...)
		}, watch.Config{
			Baseline: s.index.Load,
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
	if s.cfg.Token == "" && !bound.IP.IsLoopback() {
		// Before the address: whoever reads that has been told.
		s.log.Warn("listening beyond this machine without -token: whoever reaches the port reads every file", "addr", bound.String())
	}
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
//  5. the cluster, after the hub: the sessions leave first; or the
//     rooms' history, once no room saves;
//  6. the thumbnails, once their requests are over;
//  7. the store.
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
			if werr := waitgroup.Wait(cctx, &s.running.WaitGroup); werr != nil {
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
	if s.history != nil {
		if herr := s.history.Close(); herr != nil {
			s.log.Error("close history", "err", herr)
		}
	}
	if s.thumbs != nil { // its requests are over: a flight left running finds it closed, and keeps nothing
		s.thumbs.Close()
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

// logPath is a request's path as the logs keep it: a drop or share
// link's id is the key to it, so it is replaced by the link's Ref ("/_/drop/~1a2b3c4d/x").
func logPath(p string) string {
	// Share links' ids are hashed the same way (links.Ref is drops.Ref).
	for _, prefix := range []string{"/_/drop/", "/_/drops/", "/_/link/", "/_/links/"} {
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

// openHistory opens the rooms' history on disk, in the state folder (see
// stateFile); nil, with a warning, when there is none (it is then kept in
// memory). A file that cannot be opened stops the start, naming it.
func openHistory(cfg Config, folder string, getenv func(string) string, log *slog.Logger) (*history.Store, error) {
	file, err := stateFile(cfg, folder, getenv, log, "history", ".db", "the rooms' chat and feed")
	if err != nil || file == "" {
		return nil, err
	}
	st, err := history.Open(file, history.Config{MaxAge: cfg.HistoryAge, Logger: log.With("component", "history")})
	if err != nil {
		return nil, err
	}
	log.Debug("room history kept in", "file", file)
	return st, nil
}

// connectWait bounds how long a node waits at start for NATS to take its
// stream and buckets.
const connectWait = 30 * time.Second

// connectCluster connects to NATS for -nats. It fails, rather than falling
// back to serving alone, when NATS cannot be reached: a node that thinks it
// is the whole room would split it.
func connectCluster(ctx context.Context, o Config, reg prometheus.Registerer, log *slog.Logger) (*cluster.Broker, error) {
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
	// Long enough for a NATS cluster that is forming (started together
	// with the nodes) to elect its JetStream leader: Connect retries.
	cctx, cancel := context.WithTimeout(ctx, connectWait)
	defer cancel()
	b, err := cluster.Connect(cctx, cluster.Config{
		URL: o.NATS, Node: node, Options: nopts, Replicas: o.NATSReplicas, NodeTTL: o.NATSNodeTTL,
		HistorySize: o.NATSHistory, Registerer: reg, Logger: log,
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
