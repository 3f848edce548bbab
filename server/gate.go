package server

// The access-token gate: one keeper for every door (plain HTTP with the
// cookie or Bearer, the login form, and /ws and /_/echo, which also take
// ?token=), and one limiter of wrong tokens per client network, asked before
// the token is even looked at. Like the rest of the middleware it knows
// none of files, hub or web.

import (
	"container/list"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"filehub/guard"
	"filehub/origin"
	"filehub/refusal"
	"filehub/vocab"

	"golang.org/x/time/rate"
)

// TokenCookie is the cookie the login form sets: HttpOnly and
// SameSite=Strict, so the token never appears in a URL or the page's script,
// and no other site's page can make a browser send it.
const TokenCookie = "filehub_token"

// gateConfig configures the token gate. Zero values mean the default.
type gateConfig struct {
	// Token is the access token. Required.
	Token string
	// AllowOrigins lists the cross-site origins (scheme://host[:port], or
	// "*" for any) allowed on the WebSocket doors besides the server's own,
	// as for the hub. Defaults to none.
	AllowOrigins []string
	// Login writes the token form with a status, the local path to return
	// to and a message. Required.
	Login func(w http.ResponseWriter, status int, next, msg string)
	// FailBurst wrong tokens may come from one client network at once, then
	// one per FailEvery: enough for a person mistyping, far too few for
	// guessing. Defaults to 10 and 6 s.
	FailBurst int
	FailEvery time.Duration
	// MaxGroups bounds the client networks remembered; past it the one seen
	// least recently is forgotten. Defaults to 10,000 (about 2.5 MB, measured).
	MaxGroups int
	// OnRefuse is told of each refusal, with a reason: "token" (missing or
	// wrong), "rate_limited" or "origin". Defaults to nothing.
	OnRefuse func(r *http.Request, reason string)
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

func (c gateConfig) withDefaults() gateConfig {
	if c.FailBurst <= 0 {
		c.FailBurst = 10
	}
	if c.FailEvery <= 0 {
		c.FailEvery = 6 * time.Second
	}
	if c.MaxGroups <= 0 {
		c.MaxGroups = 10000
	}
	if c.OnRefuse == nil {
		c.OnRefuse = func(*http.Request, string) {}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// tokenGate requires the access token on every request but the few that
// must stay open: health checks and the page's static assets (the login
// form needs its style sheet). It is the only place that checks the token.
type tokenGate struct {
	cfg   gateConfig
	sum   [sha256.Size]byte // of the token: compared in constant time and length
	fails *lockout
	log   *slog.Logger
}

func newTokenGate(cfg gateConfig) *tokenGate {
	cfg = cfg.withDefaults()
	return &tokenGate{
		cfg:   cfg,
		sum:   sha256.Sum256([]byte(cfg.Token)),
		fails: newLockout(rate.Every(cfg.FailEvery), cfg.FailBurst, cfg.MaxGroups),
		log:   cfg.Logger,
	}
}

// valid compares hashes, so that neither the token's bytes nor its length
// show in the time a comparison takes.
func (g *tokenGate) valid(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return got != "" && subtle.ConstantTimeCompare(sum[:], g.sum[:]) == 1
}

// door is a kind of way in; each takes the token in its own ways and
// answers refusals in its own language.
type door int

const (
	doorOpen   door = iota // health, readiness, the page's assets: no token
	doorHTTP               // any other request: Bearer or the cookie
	doorSocket             // /ws and /_/echo: ?token= too; refusals in the protocol's JSON
	doorLogin              // POST /_/login: the token typed into the form
)

// davPrefix is dav.Prefix, which the gate does not import: where
// refusals offer Basic auth.
const davPrefix = "/_/dav"

func doorOf(r *http.Request) door {
	switch p := r.URL.Path; {
	case p == "/_/healthz", p == "/_/readyz", strings.HasPrefix(p, "/_/static/"):
		return doorOpen
	case strings.HasPrefix(path.Clean(p), "/_/drop/"), strings.HasPrefix(path.Clean(p), "/_/link/"):
		// A drop link's page and uploads, a share link's page and
		// downloads: the id in the URL is the key (packages drops and
		// links). Cleaned first, so that /_/drop/x/../../drops, the
		// owner's door, is not taken for one.
		return doorOpen
	case p == "/ws", p == "/_/echo":
		return doorSocket
	case p == "/_/login" && r.Method == http.MethodPost:
		return doorLogin
	}
	return doorHTTP
}

// source is where a request's token came from.
type source int

const (
	fromNone source = iota
	fromQuery
	fromBearer
	fromBasic
	fromCookie
)

// presented returns the token a request carries and where it found it: the
// first of ?token= (WebSocket doors only: browsers cannot set headers on a
// WebSocket, and a URL elsewhere would put the token in links and logs),
// "Authorization: Bearer", Basic auth with the token as the password (any
// user name: WebDAV clients such as Finder and Explorer speak nothing
// else) and the cookie.
func presented(r *http.Request, socket bool) (string, source) {
	if socket {
		if t := r.URL.Query().Get("token"); t != "" {
			return t, fromQuery
		}
	}
	if scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if t := strings.TrimSpace(cred); t != "" {
			return t, fromBearer
		}
	}
	if _, pass, ok := r.BasicAuth(); ok && pass != "" {
		return pass, fromBasic
	}
	if c, err := r.Cookie(TokenCookie); err == nil && c.Value != "" {
		return c.Value, fromCookie
	}
	return "", fromNone
}

func (g *tokenGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := doorOf(r)
		if d == doorOpen {
			next.ServeHTTP(w, r)
			return
		}
		group := clientGroup(r.RemoteAddr)
		now := g.cfg.Now()
		// Asked before any token is compared: if a locked-out network were
		// still told when a guess is right, the lockout would only hide the
		// wrong answers, and guessing would go on at full speed.
		wait := g.fails.wait(group, now)
		if d == doorLogin {
			g.handleLogin(w, r, group, now, wait)
			return
		}
		if wait > 0 {
			g.refuse(w, r, d, http.StatusTooManyRequests, wait)
			return
		}
		// The WebSocket doors take ?token=, which a page of any site can
		// put in a URL: refusing a foreign origin first (as the hub does)
		// keeps such a page from spending its visitors' tries, and from
		// learning anything about the token.
		if d == doorSocket && !origin.Allowed(r, g.cfg.AllowOrigins) {
			g.refuse(w, r, d, http.StatusForbidden, 0)
			return
		}
		tok, from := presented(r, d == doorSocket)
		if g.valid(tok) {
			next.ServeHTTP(w, r)
			return
		}
		if from == fromCookie {
			// A stale cookie (the token changed) would otherwise spend this
			// browser's tries on every request its page makes, and lock it
			// out before its user could type the new token.
			expireTokenCookie(w, r)
		}
		if tok != "" && !g.failed(r, group, now) {
			g.refuse(w, r, d, http.StatusTooManyRequests, g.fails.wait(group, now))
			return
		}
		g.refuse(w, r, d, http.StatusUnauthorized, 0)
	})
}

// failed records a wrong token from group and reports whether group still
// had a try left for it.
func (g *tokenGate) failed(r *http.Request, group netip.Prefix, now time.Time) bool {
	left := g.fails.fail(group, now)
	switch {
	case left == 0:
		g.log.Warn("wrong tokens: locking the client's network out", "remote", r.RemoteAddr, "network", group.String(),
			"every", g.cfg.FailEvery)
	case left > 0:
		g.log.Info("wrong token", "remote", r.RemoteAddr, "path", logPath(r.URL.Path))
	}
	return left >= 0
}

// refuse answers a refused request of door d: in the protocol's JSON on
// the WebSocket doors (the page probes /ws with fetch and reads the code)
// and for clients that ask for JSON, with the login form for browsers,
// else in plain text.
func (g *tokenGate) refuse(w http.ResponseWriter, r *http.Request, d door, status int, wait time.Duration) {
	var reason, code, msg, form string
	switch status {
	case http.StatusUnauthorized:
		reason, code, msg = "token", "unauthorized", "a valid token is required"
		w.Header().Set("WWW-Authenticate", `Bearer realm="filehub"`)
		if p := r.URL.Path; p == davPrefix || strings.HasPrefix(p, davPrefix+"/") {
			// A mount asks for a user and password only when offered Basic.
			w.Header().Add("WWW-Authenticate", `Basic realm="filehub", charset="UTF-8"`)
		}
	case http.StatusTooManyRequests:
		secs := retryAfter(wait)
		reason, code = "rate_limited", "rate_limited"
		msg = fmt.Sprintf("too many wrong tokens from your address; try again in %d s", secs)
		form = fmt.Sprintf("Too many wrong tokens from your address. Try again in %d seconds.", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	case http.StatusForbidden:
		reason, code, msg = "origin", "forbidden", "cross-site origin refused"
	}
	g.cfg.OnRefuse(r, reason)
	switch {
	case d == doorSocket || vocab.WantsJSON(r):
		refusal.Write(w, status, code, msg)
	case r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html"):
		g.cfg.Login(w, status, localPath(r.URL.RequestURI()), form)
	default:
		plain(w, status, strconv.Itoa(status)+" "+msg)
	}
}

// handleLogin checks a token typed into the login form and keeps it in a
// cookie, then sends the browser back to the local path it came from.
func (g *tokenGate) handleLogin(w http.ResponseWriter, r *http.Request, group netip.Prefix, now time.Time, wait time.Duration) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := r.PostFormValue("token")
	next := localPath(r.PostFormValue("next"))
	if wait > 0 || (tok != "" && !g.valid(tok) && !g.failed(r, group, now)) {
		secs := retryAfter(g.fails.wait(group, now))
		g.cfg.OnRefuse(r, "rate_limited")
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		g.cfg.Login(w, http.StatusTooManyRequests, next, fmt.Sprintf("Too many wrong tokens from your address. Try again in %d seconds.", secs))
		return
	}
	if !g.valid(tok) {
		g.cfg.OnRefuse(r, "token")
		g.cfg.Login(w, http.StatusUnauthorized, next, "That token is not right.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: TokenCookie, Value: tok, Path: "/", MaxAge: 30 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r),
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func expireTokenCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: TokenCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r),
	})
}

// retryAfter is a wait in whole seconds, at least 1, for Retry-After.
func retryAfter(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}

// localPath returns next when it is a clean path on this server (one
// leading slash, valid UTF-8, no backslash, no control, space or invisible
// character, no scheme or host), re-encoded; anything else becomes "/". Browsers drop tabs and
// newlines from URLs and read a backslash as a slash, so "/\t/evil.example"
// or "/\evil.example" would leave the site: no open redirect through next.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	if !utf8.ValidString(next) {
		return "/"
	}
	for _, c := range next {
		// IsPrint also refuses invisible format characters such as U+202E,
		// which make a path read as something else.
		if c == '\\' || unicode.IsSpace(c) || !unicode.IsPrint(c) {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.EscapedPath(), "//") {
		return "/"
	}
	return (&url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}).RequestURI()
}

// clientGroup is the network a client address stands for: an IPv4
// address alone, or the /64 of an IPv6 one (guard.ClientGroup: the
// connection limits and the hub's budgets group clients the same way).
func clientGroup(remoteAddr string) netip.Prefix { return guard.ClientGroup(remoteAddr) }

// lockout counts wrong tokens per client network in a token bucket each:
// burst at once, then one per 1/every. It remembers at most max networks,
// forgetting the one seen least recently first: a spray of addresses then
// costs only the oldest entries, never the network that keeps guessing.
type lockout struct {
	every rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	order *list.List // of *lockoutEntry, the most recently seen first
	byNet map[netip.Prefix]*list.Element
}

type lockoutEntry struct {
	net netip.Prefix
	lim *rate.Limiter
}

func newLockout(every rate.Limit, burst, max int) *lockout {
	return &lockout{every: every, burst: burst, max: max, order: list.New(), byNet: make(map[netip.Prefix]*list.Element)}
}

// wait reports how long n must wait for its next try: zero when it has one.
func (l *lockout) wait(n netip.Prefix, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.byNet[n]
	if e == nil {
		return 0
	}
	l.order.MoveToFront(e)
	tokens := e.Value.(*lockoutEntry).lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(l.every) * float64(time.Second))
}

// fail spends one of n's tries and returns how many whole tries are left,
// or -1 when it had none.
func (l *lockout) fail(n netip.Prefix, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.byNet[n]
	if e != nil {
		l.order.MoveToFront(e)
	} else {
		if l.order.Len() >= l.max {
			old := l.order.Back()
			l.order.Remove(old)
			delete(l.byNet, old.Value.(*lockoutEntry).net)
		}
		e = l.order.PushFront(&lockoutEntry{net: n, lim: rate.NewLimiter(l.every, l.burst)})
		l.byNet[n] = e
	}
	lim := e.Value.(*lockoutEntry).lim
	if !lim.AllowN(now, 1) {
		return -1
	}
	return int(lim.TokensAt(now))
}

// len is how many networks are remembered.
func (l *lockout) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
