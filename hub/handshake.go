package hub

// The handshake: what a join must carry, checked before the upgrade so that
// a refusal is an HTTP status with a JSON body a page can read.

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"filehub/files"
	"filehub/internal/randid"
	"filehub/origin"
	"filehub/refusal"
	"filehub/vocab"

	"github.com/gorilla/websocket"
	"golang.org/x/text/secure/precis"
)

// joinRequest is what the handshake validated.
type joinRequest struct {
	room, name, browser, remote string
	since                       uint64
	hasSince                    bool
	epoch                       string
	was                         string
	batch                       bool
	offers                      bool // offers=1: growing shares as offers, no stream (see growing.follow)
}

// ServeHTTP validates the handshake (room, name, since, epoch, origin) and
// answers a refusal with an HTTP status and a JSON body before any upgrade,
// so that a page can tell a refusal from an outage.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, status, code, msg := h.validate(r)
	if status != 0 {
		h.log.Debug("handshake refused", "status", status, "code", code, "remote", r.RemoteAddr)
		h.cfg.Metrics.HandshakeRefusals.WithLabelValues(refusalReason(status)).Inc()
		refusal.Write(w, status, code, msg)
		return
	}
	if b := h.cfg.Broker; b != nil && b.Err() != nil {
		// Joins need the cluster (history, names); the page retries, and a
		// load balancer reading /_/readyz sends it to another node.
		h.cfg.Metrics.HandshakeRefusals.WithLabelValues("unavailable").Inc()
		refusal.Write(w, http.StatusServiceUnavailable, codeInternal, "the cluster is unavailable; try again shortly")
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		h.cfg.Metrics.HandshakeRefusals.WithLabelValues("not_websocket").Inc()
		refusal.Write(w, http.StatusUpgradeRequired, codeBadRequest, "this URL takes a WebSocket handshake")
		return
	}
	if req.browser == "" {
		req.browser = randid.Hex(16)
	}
	// Set on the 101 response: the page's later HTTP fetches and plain
	// links carry it, and RecordFetch names them after this session.
	http.SetCookie(w, &http.Cookie{
		Name: browserCookie, Value: req.browser, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		// X-Forwarded-Proto is only present when a trusted proxy set it.
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
	mb := newMember(h, req)
	setup := mb.setup
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		h.cfg.Metrics.HandshakeRefusals.WithLabelValues("shutting_down").Inc()
		refusal.Write(w, http.StatusServiceUnavailable, codeInternal, "server is shutting down")
		return
	}
	h.sessions.Add(1)
	h.mu.Unlock()
	// The session runs on a goroutine of the hub's, and this handler returns
	// as soon as the connection is upgraded and joined: net/http then lets
	// go of its serving goroutine and of the response, instead of keeping
	// them for the session's whole life, which is what melody's blocking
	// HandleRequest would do. w and r are not touched after the upgrade.
	go h.runSession(w, r, mb, setup)
	if _, ok := <-setup; !ok {
		return // the upgrade failed
	}
	// The join runs here, on net/http's goroutine, while onConnect waits:
	// encoding the welcome and logging grow a goroutine's stack, and the
	// session's goroutine keeps whatever stack it grew for its whole life
	// (an idle session's largest cost, BENCHMARKS.md).
	h.join(mb)
	setup <- struct{}{}
}

// runSession is the session's goroutine: melody's upgrade, then its read
// loop until the session ends. w and r are its parameters, not captured,
// so that nothing keeps the request once melody has upgraded it.
func (h *Hub) runSession(w http.ResponseWriter, r *http.Request, mb *member, setup chan struct{}) {
	defer h.sessions.Done()
	defer close(setup) // tells ServeHTTP the upgrade failed, when it did
	if err := h.m.HandleRequestWithKeys(w, r, map[string]any{memberKey: mb}); err != nil {
		h.log.Debug("upgrade failed", "err", err, "remote", mb.remote)
	}
}

// refusalReason is the metrics label of a refused handshake.
func refusalReason(status int) string {
	switch status {
	case http.StatusForbidden:
		return "origin"
	}
	return "bad_request"
}

func (h *Hub) validate(r *http.Request) (req joinRequest, status int, code, msg string) {
	q := r.URL.Query()
	if !h.originAllowed(r) {
		return req, http.StatusForbidden, codeForbidden, "cross-site origin refused"
	}
	req.room = q.Get("room")
	if req.room == "" {
		req.room = h.cfg.DefaultRoom
	}
	if !ValidRoom(req.room) {
		return req, http.StatusBadRequest, codeBadRequest, "room must be 1-64 of A-Z a-z 0-9 . _ -"
	}
	var ok bool
	if req.name, ok = cleanName(q.Get("name")); !ok {
		return req, http.StatusBadRequest, codeBadRequest, "name must be 1-32 printable characters"
	}
	if req.name == "" {
		req.name = "guest-" + randid.Hex(2)
	}
	if s := q.Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return req, http.StatusBadRequest, codeBadRequest, "since must be a feed seq"
		}
		req.since, req.hasSince = n, true
	}
	req.epoch = q.Get("epoch")
	if !validEpoch(req.epoch) {
		return req, http.StatusBadRequest, codeBadRequest, "epoch must be the epoch of a welcome"
	}
	req.was = q.Get("was")
	if req.was != "" && (len(req.was) > 16 || !isHex(req.was)) {
		return req, http.StatusBadRequest, codeBadRequest, "was must be the id of a welcome's you"
	}
	req.batch = q.Get("batch") == "1"
	req.offers = q.Get("offers") == "1"
	req.remote = remoteHost(r)
	if c, err := r.Cookie(browserCookie); err == nil && len(c.Value) == 32 && isHex(c.Value) {
		req.browser = c.Value
	}
	return req, 0, "", ""
}

// originAllowed is the server's origin rule (package origin).
func (h *Hub) originAllowed(r *http.Request) bool { return origin.Allowed(r, h.cfg.AllowOrigins) }

// validEpoch accepts what history epochs are made of (any node's: hex, or
// digits), up to 64 characters; "" means none was given.
func validEpoch(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// ValidRoom is the protocol's rule for a room name (vocab.ValidRoom).
func ValidRoom(s string) bool { return vocab.ValidRoom(s) }

// cleanName checks a member's name and returns it as the room shows it;
// an empty result is valid and means "pick a default". The name goes
// through PRECIS's nickname profile (RFC 8266): widths and compatibility
// forms folded (NFKC), spaces other than U+0020 made U+0020 and runs of
// them one, the ends trimmed, and every character that shows as nothing
// (U+034F, U+200B, the Hangul fillers…) refused. What remains must pass
// files.CheckVisible, the rule of every chosen name, be printable and at
// most 32 characters. Names are compared by nameKey.
func cleanName(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 32 {
		return "", false
	}
	if s == "" {
		return "", true
	}
	s, err := precis.Nickname.String(s)
	if err != nil || s == "" || utf8.RuneCountInString(s) > 32 || files.CheckVisible(s) != nil {
		return "", false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", false
		}
	}
	return s, true
}

// NameKey is what two member names that look alike have in common: their
// PRECIS nickname comparison key (case folded, NFKC). A room holds one
// member per key; "Alice" and "ａｌｉｃｅ" after "alice" become "Alice-2" and
// "ａｌｉｃｅ-2". A broker claims names by it.
func NameKey(name string) string {
	if k, err := precis.Nickname.CompareKey(name); err == nil {
		return k
	}
	return name // not a name cleanName made; compared as it is
}

// remoteHost is the client's address without its port: RemoteAddr, which
// the middleware has set to the client a trusted proxy saw.
func remoteHost(r *http.Request) string {
	addr := r.RemoteAddr
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		addr = addr[:i]
	}
	return strings.Trim(addr, "[]")
}
