package server

// The command line and the environment. Every setting is a flag with an
// environment variable FILEHUB_NAME, and both go through the same Set of the
// same flag.Value, so that "yes" or "5" is refused in either place with the
// same words instead of quietly meaning false or zero.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Config is the server's configuration: what the flags and FILEHUB_
// variables set (parseFlags), or what a test sets without them (New). The
// zero value serves nothing useful: Root is required, and booleans are
// off; parseFlags gives the command line's defaults, named below.
type Config struct {
	Addr      string // host:port to listen on (Run only; -addr, default 127.0.0.1:8080)
	Root      string // the folder to serve (required)
	Token     string // the access token; "": no gate
	LogLevel  string // debug, info, warn or error (Run only; default info)
	LogFormat string // text or json (Run only; default text)
	StateDir  string // drop links and room history across restarts; "": the user's state folder

	ThumbCache     string // thumbnails' cache folder; "": the user's cache folder
	ThumbCacheSize int64  // bytes of thumbnails kept (0: 256 MiB on disk, 32 MiB in memory)

	TLSCert, TLSKey string // PEM files: serve HTTPS and WSS

	Upload     bool  // accept uploads with PUT
	ReadOnly   bool  // refuse uploads whatever else is set
	MaxUpload  int64 // largest upload in bytes (default 1 GiB; 0: files' default)
	ShowHidden bool  // serve dotfiles
	Metrics    bool  // serve /_/metrics (default on)
	Pprof      bool  // serve /_/debug/pprof/

	PrintVersion bool   // -version: print it and exit (Run only)
	Healthcheck  string // a URL or a path: check a running server and exit (Run only)

	AllowOrigins   []string // cross-site origins allowed, or "*"
	TrustedProxies []string // proxies whose X-Forwarded-For and -Proto are believed
	AllowHosts     []string // Host names answered on loopback besides localhost, or "*"

	Drain           time.Duration // readyz 503 this long before closing
	BodyIdleTimeout time.Duration // cut an upload this idle (0: 30s)
	BodyTimeout     time.Duration // the longest a body of any route but uploads may take (0: 30s)

	// Connections open at once (package guard): per client network, and
	// in all. 0: guard's defaults (256; ¾ of the descriptors, ≤ 16,384).
	MaxConns, MaxConnsPerClient int
	Rate                        float64 // messages per second per session (0: the hub's default)

	// The rooms' history on disk, on a node alone (with NATS, NATS keeps it).
	History    bool          // keep it in StateDir (default on); off: memory only
	HistoryAge time.Duration // a room unchanged this long is forgotten (0: 7 days)

	// Several nodes as one room, on NATS.
	NATS, Node        string
	NATSCreds, NATSCA string
	NATSCert, NATSKey string
	NATSReplicas      int
	NATSNodeTTL       time.Duration
	NATSHistory       int

	// The live folder.
	Watch         bool // default on
	WatchLimit    int
	WatchInterval time.Duration
	// IndexLimit is the most entries the folder's index holds (listings
	// and search from memory, kept current by the watcher); past it the
	// index turns off: listings from the disk, no search. 0: 1,000,000.
	// No index at all with Watch off.
	IndexLimit int
}

// minWatchInterval bounds -watch-interval from below: each rescan lists the
// whole tree, and a few a second is already more than anyone needs.
const minWatchInterval = 100 * time.Millisecond

// usageError is a mistake in how filehub was started: a flag, an
// environment variable, the folder. main exits 2 for it (ExitCode), and adds a hint
// to read -h when the command line itself was wrong.
type usageError struct {
	err  error
	hint bool
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func badUsage(hint bool, format string, a ...any) error {
	return &usageError{err: fmt.Errorf(format, a...), hint: hint}
}

// parseFlags reads the environment, then the command line (so that the
// command line wins), and the folder given as a plain argument. For -h it
// writes the usage to stdout and returns flag.ErrHelp.
func parseFlags(args []string, getenv func(string) string, stdout io.Writer) (Config, error) {
	o := Config{Addr: "127.0.0.1:8080", Root: ".", LogLevel: "info", LogFormat: "text", Metrics: true, MaxUpload: 1 << 30, Watch: true, History: true}
	fs := flag.NewFlagSet("filehub", flag.ContinueOnError)
	// flag would print each error, then the whole usage, to this writer:
	// main prints one line instead.
	fs.SetOutput(io.Discard)
	var bad error // the first bad value on the command line, named after its flag
	envOf := make(map[string]string)
	def := func(v flag.Value, name, env, usage string) {
		fs.Var(&named{Value: v, name: name, bad: &bad}, name, usage)
		if env != "" {
			envOf[name] = "FILEHUB_" + env
		}
	}
	def(stringValue{&o.Addr, checkAddr}, "addr", "ADDR",
		"`host:port` to listen on; port 0 picks a free one. The default serves this machine only; :8080 serves your network too")
	def(stringValue{&o.Root, nil}, "root", "ROOT", "the `folder` to serve, also given as the plain argument FOLDER")
	def(boolValue{&o.Upload}, "upload", "UPLOAD", "accept uploads with PUT")
	def(boolValue{&o.ReadOnly}, "read-only", "READ_ONLY", "refuse uploads and drop links (not with -upload)")
	def((*byteSize)(&o.MaxUpload), "max-upload", "MAX_UPLOAD", "largest upload: a `size` in bytes or with a unit, such as 512MiB or 1GiB")
	def(boolValue{&o.ShowHidden}, "show-hidden", "SHOW_HIDDEN", "serve dotfiles such as .env and .git")
	def(stringValue{&o.StateDir, nil}, "state-dir", "STATE_DIR",
		"the `folder` where drop and share links and the rooms' history are kept across restarts; never one inside the served folder. "+
			"Default: $XDG_STATE_HOME/filehub, or ~/.local/state/filehub. With -nats they are kept in NATS instead")
	def(boolValue{&o.History}, "history", "HISTORY",
		"keep each room's chat, snippets and feed (shares, uploads, fetches) on disk in -state-dir, so a restart forgets none of it: "+
			"-history=false keeps them in memory only (with -nats, NATS keeps them)")
	def(durationValue{&o.HistoryAge}, "history-age", "HISTORY_AGE",
		"forget the history of a room nobody wrote to for this `duration` (0: 7 days); at most 256 rooms are kept, the least recently active go first")
	def(stringValue{&o.ThumbCache, nil}, "thumb-cache", "THUMB_CACHE",
		"the `folder` where image thumbnails are kept, one folder in it per served folder; never one inside the served folder. "+
			"Default: $XDG_CACHE_HOME/filehub, or ~/.cache/filehub")
	def((*byteSize)(&o.ThumbCacheSize), "thumb-cache-size", "THUMB_CACHE_SIZE",
		"the most `size` of thumbnails kept, the least recently used going first, such as 64MiB (0: 256MiB)")
	def(durationValue{&o.BodyIdleTimeout}, "body-idle-timeout", "BODY_IDLE_TIMEOUT",
		"cut an upload whose body sends less than 1 KiB in this `duration` (0: 30s)")
	def(durationValue{&o.BodyTimeout}, "body-timeout", "BODY_TIMEOUT",
		"the longest `duration` a request body may take on any route but uploads (default 30s)")
	def(intValue{&o.MaxConns}, "max-conns", "MAX_CONNS",
		"connections open at once, in all; more are closed as soon as accepted (default: three quarters of the descriptors, at most 16384)")
	def(intValue{&o.MaxConnsPerClient}, "max-conns-per-client", "MAX_CONNS_PER_CLIENT",
		"connections open at once from one client network (an IPv6 /64); trusted proxies are not bound by it (default 256)")
	def(stringValue{&o.Token, nil}, "token", "TOKEN",
		"require this access `token` on every request; browsers are asked once and keep it in a cookie. Prefer the environment variable: a flag shows in ps")
	def(&listValue{p: &o.AllowOrigins, norm: normOrigin}, "allow-origin", "ALLOW_ORIGIN",
		"a cross-site `origin` allowed to join and post, e.g. https://example.org, or * for any; repeat or comma-separate")
	def(&listValue{p: &o.AllowHosts, norm: normHost}, "allow-host", "ALLOW_HOST",
		"a Host `name` to answer besides localhost when listening on a loopback address (behind a proxy: its public name), or * for any; repeat or comma-separate")
	def(stringValue{&o.LogLevel, checkLogLevel}, "log-level", "LOG_LEVEL", "the least `level` logged: debug, info, warn or error")
	def(stringValue{&o.LogFormat, checkLogFormat}, "log-format", "LOG_FORMAT", "log `format`: text, or json for one JSON object a line")
	def(boolValue{&o.Metrics}, "metrics", "METRICS", "serve Prometheus metrics at /_/metrics (behind -token when set)")
	def(stringValue{&o.TLSCert, nil}, "tls-cert", "TLS_CERT", "certificate `file` (PEM): serve HTTPS and WSS on the same port")
	def(stringValue{&o.TLSKey, nil}, "tls-key", "TLS_KEY", "private key `file` (PEM) for -tls-cert")
	def(&listValue{p: &o.TrustedProxies, norm: normProxy}, "trusted-proxy", "TRUSTED_PROXY",
		"`address` or CIDR of a reverse proxy whose X-Forwarded-For and -Proto are believed; repeat or comma-separate")
	def(durationValue{&o.Drain}, "drain", "DRAIN",
		"on SIGTERM, answer /_/readyz 503 for this `duration` before closing, so a load balancer drains the node first")
	def(boolValue{&o.Pprof}, "pprof", "PPROF", "serve Go's profiles at /_/debug/pprof/ (behind -token when set), for measuring")
	def(floatValue{&o.Rate}, "rate", "RATE",
		"`messages` per second each session may send, burst twice that (0: the default, 20); raise it for load tests")
	def(stringValue{&o.NATS, nil}, "nats", "NATS",
		"NATS server `URLs`, comma-separated: several filehub nodes serving the same folder then act as one room (docs/operations.md: Many nodes, one room)")
	def(stringValue{&o.Node, nil}, "node", "NODE", "this node's `name` among the nodes (default: the host name)")
	def(stringValue{&o.NATSCreds, nil}, "nats-creds", "NATS_CREDS", "NATS credentials `file` (a .creds file with a JWT and an NKey seed)")
	def(stringValue{&o.NATSCA, nil}, "nats-tls-ca", "NATS_TLS_CA", "CA certificate `file` (PEM) to verify the NATS servers with")
	def(stringValue{&o.NATSCert, nil}, "nats-tls-cert", "NATS_TLS_CERT", "client certificate `file` (PEM) for NATS servers that ask for one")
	def(stringValue{&o.NATSKey, nil}, "nats-tls-key", "NATS_TLS_KEY", "private key `file` (PEM) for -nats-tls-cert")
	def(intValue{&o.NATSReplicas}, "nats-replicas", "NATS_REPLICAS",
		"`N`: how many NATS servers keep the room history and members: 1 for one server, 3 for a three-server cluster (0: 1)")
	def(durationValue{&o.NATSNodeTTL}, "nats-node-ttl", "NATS_NODE_TTL",
		"how long a node that stopped answering counts as alive: its members leave the rooms after about this `duration` (0: 10s)")
	def(intValue{&o.NATSHistory}, "nats-history", "NATS_HISTORY",
		"`N`: feed events, and chat lines, the NATS stream keeps per room; every node loads them when a room opens (0: 200)")
	def(boolValue{&o.Watch}, "watch", "WATCH",
		"tell open pages of every change to the folder, whoever makes it (a shell, a sync tool): -watch=false turns it off")
	def(intValue{&o.WatchLimit}, "watch-limit", "WATCH_LIMIT",
		"watch at most this many `folders` with inotify; a larger tree is rescanned every -watch-interval instead (0: 4096)")
	def(durationValue{&o.WatchInterval}, "watch-interval", "WATCH_INTERVAL",
		"the `duration` between two rescans of the folder, when it is rescanned: past -watch-limit, without inotify, "+
			"or on a network file system (NFS, SMB), where inotify misses other machines' writes (0: 3s; at least 100ms)")
	def(intValue{&o.IndexLimit}, "index-limit", "INDEX_LIMIT",
		"hold at most this many `entries` of the folder in memory for listings and search (about 160 bytes each); "+
			"past it listings are read from the disk and search is off until a restart (0: 1000000; no index without the watcher)")
	def(boolValue{&o.PrintVersion}, "version", "", "print the version and exit")
	// No environment variable: set in a container's environment, it would
	// turn every start of the server into a check.
	def(stringValue{&o.Healthcheck, checkHealthURL}, "healthcheck", "",
		"GET this `URL` and exit 0 on a 2xx answer, else 1 (for Docker's HEALTHCHECK). A path alone, such as /_/healthz, "+
			"is asked of this server's own address (-addr, FILEHUB_ADDR)")

	// The environment first, so that the command line wins.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := envOf[f.Name]
		val := getenv(env)
		if env == "" || val == "" || envErr != nil {
			return
		}
		v := f.Value.(*named).Value
		if err := v.Set(val); err != nil {
			envErr = badUsage(false, "%s: %w", env, err)
			return
		}
		if l, ok := v.(*listValue); ok {
			l.fromEnv = true
		}
	})
	if envErr != nil {
		return o, envErr
	}

	folders, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, fs, envOf)
		return o, flag.ErrHelp
	case bad != nil:
		return o, &usageError{err: bad, hint: true}
	case err != nil:
		return o, &usageError{err: err, hint: true}
	}
	switch len(folders) {
	case 0:
	case 1:
		rootFlag := false
		fs.Visit(func(f *flag.Flag) { rootFlag = rootFlag || f.Name == "root" })
		if rootFlag && filepath.Clean(o.Root) != filepath.Clean(folders[0]) {
			return o, badUsage(true, "two folders: -root %s and %s; give one", o.Root, folders[0])
		}
		o.Root = folders[0]
	default:
		return o, badUsage(true, "one folder at most, not %d: %s", len(folders), strings.Join(folders, " "))
	}
	if o.Token != "" {
		if err := checkToken(o.Token); err != nil {
			return o, err
		}
	}
	if o.Upload && o.ReadOnly {
		return o, badUsage(true, "-upload and -read-only contradict each other; give one")
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return o, badUsage(true, "-tls-cert and -tls-key go together")
	}
	if (o.NATSCert == "") != (o.NATSKey == "") {
		return o, badUsage(true, "-nats-tls-cert and -nats-tls-key go together")
	}
	if o.WatchInterval != 0 && o.WatchInterval < minWatchInterval {
		return o, badUsage(true, "-watch-interval: %s is under %s: a rescan lists the whole folder", o.WatchInterval, minWatchInterval)
	}
	if o.NATS == "" && (o.Node != "" || o.NATSCreds != "" || o.NATSCA != "" || o.NATSCert != "" || o.NATSReplicas != 0 || o.NATSNodeTTL != 0 || o.NATSHistory != 0) {
		return o, badUsage(true, "-node and the other -nats-… settings need -nats")
	}
	return o, nil
}

// minToken is the shortest token accepted: 16 characters. The lockout
// allows a network about 14,000 guesses a day (docs/security.md); a token
// of 16 random characters is out of reach of that, a word is not.
const minToken = 16

// checkToken refuses a token that is too short to hold against guessing, or
// that has whitespace in it (a stray space or newline from a file or a
// copy, which no one types back the same way). The message never shows
// the token.
func checkToken(t string) error {
	if n := utf8.RuneCountInString(t); n < minToken {
		return badUsage(false, "-token (FILEHUB_TOKEN) is shorter than %d characters (%d); make one with: openssl rand -hex 16", minToken, n)
	}
	if strings.IndexFunc(t, unicode.IsSpace) >= 0 {
		return badUsage(false, "-token (FILEHUB_TOKEN) has whitespace in it; make one with: openssl rand -hex 16")
	}
	return nil
}

// parseArgs parses flags that may come before or after the folder
// ("filehub ~/share -upload"): flag stops at the first plain argument, so
// it is taken as a folder and parsing goes on after it. After "--", every
// argument is a folder.
func parseArgs(fs *flag.FlagSet, args []string) (folders []string, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return folders, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(folders, rest...), nil
		}
		folders = append(folders, rest[0])
		args = rest[1:]
	}
}

// printUsage writes -h: the synopsis, then each flag with its argument,
// what it does, its environment variable and its default.
func printUsage(w io.Writer, fs *flag.FlagSet, envOf map[string]string) {
	fmt.Fprint(w, `Usage: filehub [flags] [FOLDER]
       filehub send | get | listen ...   (the client: filehub send -h)

Serves FOLDER (by default the current folder) over HTTP, with live rooms
over WebSocket at /ws and a page at /. Flags may come before or after the
folder. Each flag can also be set with the environment variable shown; the
command line wins. A folder named send, get or listen is given as ./send.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  -%s", f.Name)
		if arg != "" {
			fmt.Fprintf(w, " %s", arg)
		}
		fmt.Fprintf(w, "\n%s", wrapText(usage, "        ", 76))
		var notes []string
		if env := envOf[f.Name]; env != "" {
			notes = append(notes, env)
		}
		switch f.DefValue {
		case "", "0", "0s", "false":
		default:
			notes = append(notes, "default "+f.DefValue)
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "        (%s)\n", strings.Join(notes, ", "))
		}
	})
	fmt.Fprint(w, `
Examples:
  filehub                          this folder, at http://127.0.0.1:8080/ for this machine only
  filehub -addr :8080 ~/share      ~/share, to everyone on your network
  FILEHUB_TOKEN=$(openssl rand -hex 16) filehub -addr :8080 -upload ~/share
                                   the same, with uploads, for those who have the token

What each setting exposes, and to whom: docs/security.md in filehub's source.
`)
}

// wrapText breaks s into lines of at most width characters, each indented.
func wrapText(s, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(s) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}

// named wraps each flag's value to remember the first bad one with the
// flag's name: flag reports it as `invalid value "5" for flag -drain: …`,
// saying the value twice; main says `-drain: "5" is not a duration…`.
type named struct {
	flag.Value
	name string
	bad  *error
}

func (n *named) Set(s string) error {
	err := n.Value.Set(s)
	if err != nil && *n.bad == nil {
		*n.bad = fmt.Errorf("-%s: %w", n.name, err)
	}
	return err
}

// IsBoolFlag lets a wrapped boolean be given as -upload, without =true.
func (n *named) IsBoolFlag() bool {
	b, ok := n.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// stringValue is a string, checked by check when it is not nil.
type stringValue struct {
	p     *string
	check func(string) error
}

func (v stringValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v stringValue) Set(s string) error {
	if v.check != nil {
		if err := v.check(s); err != nil {
			return err
		}
	}
	*v.p = s
	return nil
}

// boolValue is a boolean as strconv.ParseBool reads it: 1, t, true, 0, f,
// false in any case; nothing else ("yes" is an error, not false).
type boolValue struct{ p *bool }

func (v boolValue) IsBoolFlag() bool { return true }

func (v boolValue) String() string {
	if v.p == nil {
		return "false"
	}
	return strconv.FormatBool(*v.p)
}

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not a boolean such as true or false", s)
	}
	*v.p = b
	return nil
}

// durationValue is a duration with a unit, not negative ("5" is an error,
// not five nanoseconds or zero).
type durationValue struct{ p *time.Duration }

func (v durationValue) String() string {
	if v.p == nil {
		return "0s"
	}
	return v.p.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not a duration such as 30s", s)
	}
	*v.p = d
	return nil
}

// intValue is a whole number, not negative.
type intValue struct{ p *int }

func (v intValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a whole number such as 3", s)
	}
	*v.p = n
	return nil
}

// floatValue is a finite number, not negative.
type floatValue struct{ p *float64 }

func (v floatValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

func (v floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%q is not a number such as 20", s)
	}
	*v.p = f
	return nil
}

// byteSize is a size in bytes, written as a number with an optional unit
// (KiB, MiB, GiB, or K, M, G meaning the same).
type byteSize int64

// String writes the size with the largest unit that divides it, as -h
// shows the default: 1GiB rather than 1073741824.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	num, mult := s, int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size such as 1048576, 512MiB or 1GiB", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// listValue collects repeated or comma-separated values, each normalised
// (and so checked) by norm. Values from the command line replace those
// from the environment rather than adding to them: the command line wins.
type listValue struct {
	p       *[]string
	norm    func(string) (string, error)
	fromEnv bool // *p holds the environment's values
}

func (l *listValue) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *listValue) Set(s string) error {
	var add []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := l.norm(v)
		if err != nil {
			return err
		}
		add = append(add, n)
	}
	if l.fromEnv {
		*l.p, l.fromEnv = nil, false
	}
	*l.p = append(*l.p, add...)
	return nil
}

func checkAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q is not an address such as 127.0.0.1:8080 or :8080", s)
	}
	return nil
}

func checkLogLevel(s string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("%q is not a level: debug, info, warn or error", s)
	}
	return nil
}

func checkLogFormat(s string) error {
	if s != "text" && s != "json" {
		return fmt.Errorf("%q is not a format: text or json", s)
	}
	return nil
}

// checkHealthURL accepts a path of this server (/_/healthz) or an absolute
// http or https URL.
func checkHealthURL(s string) error {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not a URL such as http://127.0.0.1:8080/_/healthz, nor a path such as /_/healthz", s)
	}
	return nil
}

// normOrigin accepts "*" or scheme://host[:port], as browsers send Origin.
func normOrigin(s string) (string, error) {
	if s == "*" {
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an origin such as https://example.org", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// normProxy accepts an address or a CIDR, and returns the CIDR.
func normProxy(s string) (string, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String(), nil
	}
	return "", fmt.Errorf("%q is not an address or CIDR such as 10.0.0.1 or 10.0.0.0/8", s)
}
