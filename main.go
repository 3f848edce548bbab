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
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"filehub/files"
	"filehub/hub"
	"filehub/web"
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
	addr, root, token, logLevel string
	upload, showHidden          bool
	maxUpload                   byteSize
	allowOrigins                listFlag
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
	envBool := func(name string) bool {
		b, _ := strconv.ParseBool(getenv("FILEHUB_" + name))
		return b
	}
	fs.StringVar(&o.addr, "addr", env("ADDR", "127.0.0.1:8080"), "address to listen on; port 0 picks a free one (FILEHUB_ADDR)")
	fs.StringVar(&o.root, "root", env("ROOT", "."), "folder to serve (FILEHUB_ROOT)")
	fs.BoolVar(&o.upload, "upload", envBool("UPLOAD"), "accept uploads with PUT (FILEHUB_UPLOAD)")
	fs.Var(&o.maxUpload, "max-upload", "largest upload, in bytes or with a unit: 512MiB, 1GiB (FILEHUB_MAX_UPLOAD; default 1GiB)")
	fs.BoolVar(&o.showHidden, "show-hidden", envBool("SHOW_HIDDEN"), "serve dotfiles such as .env and .git (FILEHUB_SHOW_HIDDEN)")
	fs.StringVar(&o.token, "token", env("TOKEN", ""), "require this access token to join a room (FILEHUB_TOKEN)")
	fs.Var(&o.allowOrigins, "allow-origin", "a cross-site origin allowed to join, e.g. https://example.org; repeat or comma-separate; * for any (FILEHUB_ALLOW_ORIGIN)")
	fs.StringVar(&o.logLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (FILEHUB_LOG_LEVEL)")
	if v := getenv("FILEHUB_MAX_UPLOAD"); v != "" {
		if err := o.maxUpload.Set(v); err != nil {
			return o, fmt.Errorf("FILEHUB_MAX_UPLOAD: %w", err)
		}
	}
	if v := getenv("FILEHUB_ALLOW_ORIGIN"); v != "" {
		_ = o.allowOrigins.Set(v)
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (the folder is -root)", fs.Arg(0))
	}
	return o, nil
}

// run is the whole program: it returns when ctx ends (nil after a clean
// shutdown) or when the server cannot start or fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var h *hub.Hub
	store, err := files.Open(o.root, files.Config{
		ShowHidden: o.showHidden,
		Uploads:    o.upload,
		MaxUpload:  int64(o.maxUpload),
		Logger:     log.With("component", "files"),
		// The hub is built below; files never imports it.
		OnFetch:  func(r *http.Request, path string, n int64) { h.RecordFetch(r, path, n) },
		OnUpload: func(r *http.Request, res files.PutResult) { h.RecordUpload(r, res) },
	})
	if err != nil {
		return fmt.Errorf("-root: %w", err)
	}
	defer store.Close()
	h = hub.New(store, hub.Config{
		Token:        o.token,
		AllowOrigins: o.allowOrigins,
		Version:      version(),
		Logger:       log.With("component", "hub"),
	})

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           routes(store, h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown ignores hijacked connections: the hub closes its sessions
	// with 1001 itself, first, so pages reconnect elsewhere or later.
	srv.RegisterOnShutdown(h.Shutdown)

	fmt.Fprintf(stdout, "filehub serving %s at http://%s/\n", o.root, ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "root", o.root, "uploads", o.upload)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if herr := h.Close(sctx); err == nil {
		err = herr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// routes lists the whole HTTP surface.
func routes(store *files.Store, h *hub.Hub) http.Handler {
	mux := http.NewServeMux()
	fh := files.Handler(store)
	page := web.Handler()
	mux.Handle("GET /{$}", rootHandler(page, fh))
	mux.Handle("GET /_/static/", page)
	mux.HandleFunc("GET /_/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /ws", h)
	mux.Handle("GET /{path...}", fh)
	mux.Handle("PUT /{path...}", fh)
	return mux
}

// rootHandler serves the page at / to browsers, and the root listing to
// clients that ask for JSON.
func rootHandler(page, listing http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			listing.ServeHTTP(w, r)
			return
		}
		page.ServeHTTP(w, r)
	})
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
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
