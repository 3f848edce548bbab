// Package hub is the room server behind /ws: a registry of rooms whose
// members, connected through melody, fetch files privately, share them with
// the room, chat, and watch a live feed of who fetched what.
//
// Goroutines: each session runs on one goroutine the hub starts in
// ServeHTTP (melody's read pump, inside HandleRequestWithKeys), so that the
// HTTP handler can return once the connection is upgraded; melody starts
// the write pump. The hub adds none per session except file streams, bounded by
// Config.MaxStreams and stopped by the session's context, which the
// disconnect handler cancels; and one presence timer per crowded room,
// stopped when the room empties. Close waits for all of them.
package hub

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"filehub/files"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
	"golang.org/x/time/rate"
)

// Config configures a Hub. Zero values mean the documented default.
type Config struct {
	// Token, when set, is required on the handshake (query token,
	// Authorization: Bearer, or the filehub_token cookie). Defaults to none.
	Token string
	// AllowOrigins lists the cross-site origins (scheme://host[:port]) allowed
	// to join besides the server's own; "*" allows any. Defaults to none.
	AllowOrigins []string
	// DefaultRoom is where a join without room lands, and where anonymous HTTP
	// fetches are reported. Defaults to "lobby".
	DefaultRoom string
	// Inline is the largest file sent whole in a file frame; larger ones are
	// streamed. Defaults to 1 MiB.
	Inline int64
	// MaxMessage is the largest message a client may send. Defaults to 64 KiB.
	MaxMessage int64
	// FeedSize is how many events each room keeps for since. Defaults to 200.
	FeedSize int
	// Rate and Burst bound the messages a session may send (a token bucket).
	// Defaults to 20 per second, burst 40.
	Rate  rate.Limit
	Burst int
	// Strikes is how many rate-limited messages, beyond one a second, a
	// session may send before it is closed with 1008. Defaults to 40.
	Strikes int
	// QueueSize is each session's send queue in frames; a session whose queue
	// overflows is closed with 1013. Defaults to 128: deep enough for a burst
	// to a healthy browser. The queue is the member's own, grown on demand
	// (an idle session holds none), and a batch=1 session's writer takes all
	// of it at once, so it rarely holds more than a few frames.
	QueueSize int
	// PingPeriod is how often the server pings, and PongWait how long it waits
	// for any read (a pong included) before dropping a dead peer.
	// Defaults to 25 s and 35 s: under the 30–60 s idle timeouts of common proxies.
	PingPeriod, PongWait time.Duration
	// WriteWait bounds one write to a session. Defaults to 10 s.
	WriteWait time.Duration
	// PresenceThreshold is the room size above which presence frames are
	// coalesced into at most one count frame per PresenceInterval, so that a
	// join storm of N sessions costs O(N) frames rather than O(N²).
	// Defaults to 200 and 1 s.
	PresenceThreshold int
	PresenceInterval  time.Duration
	// BatchDelay is how long a busy room with batch=1 members gathers frames
	// before it sends them, as one batch frame per member: a room that sent
	// nothing for BatchDelay sends at once, so a quiet room gains no latency,
	// while a busy one makes one write per member per BatchDelay instead of
	// one per message (the writes, not the JSON, are what a fan-out costs).
	// Defaults to 10 ms, well under what a person notices; negative turns it
	// off (frames then only coalesce behind a session's own writes).
	BatchDelay time.Duration
	// ChunkSize is the payload of one binary frame of a stream, Window how
	// many of a stream's frames may wait in the session's queue, MaxStreams how
	// many streams a session may have at once. Defaults to 64 KiB, 4 and 3.
	ChunkSize, Window, MaxStreams int
	// Version is reported in welcome. Defaults to "dev".
	Version string
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Metrics defaults to collectors registered nowhere.
	Metrics *Metrics
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.DefaultRoom == "" {
		c.DefaultRoom = "lobby"
	}
	if c.Inline <= 0 {
		c.Inline = 1 << 20
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = 64 << 10
	}
	def(&c.FeedSize, 200)
	if c.Rate <= 0 {
		c.Rate = 20
	}
	def(&c.Burst, 40)
	def(&c.Strikes, 40)
	def(&c.QueueSize, 128)
	defDur(&c.PingPeriod, 25*time.Second)
	defDur(&c.PongWait, 35*time.Second)
	defDur(&c.WriteWait, 10*time.Second)
	def(&c.PresenceThreshold, 200)
	defDur(&c.PresenceInterval, time.Second)
	if c.BatchDelay == 0 {
		c.BatchDelay = 10 * time.Millisecond
	}
	def(&c.ChunkSize, 64<<10)
	def(&c.Window, 4)
	def(&c.MaxStreams, 3)
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Cookie names. browserCookie ties plain HTTP fetches (links, AJAX) made by a
// page to the session that page opened, so the feed can name them.
const (
	browserCookie = "filehub_browser"
	tokenCookie   = "filehub_token"
	memberKey     = "filehub.member" // melody session key of the *member
)

// Hub is the room server. Create it with New, serve it at /ws, and stop it
// with Shutdown then Close.
type Hub struct {
	cfg   Config
	store *files.Store
	m     *melody.Melody
	log   *slog.Logger

	mu       sync.Mutex
	rooms    map[string]*room
	browsers map[string][]*member // browser cookie → its live sessions, newest last
	closing  bool

	seq      atomic.Uint64 // feed sequence, shared by all rooms
	sessions sync.WaitGroup
	workers  sync.WaitGroup // streams and presence timers
}

// New returns a Hub serving the files of store.
func New(store *files.Store, cfg Config) *Hub {
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg:      cfg,
		store:    store,
		log:      cfg.Logger,
		rooms:    make(map[string]*room),
		browsers: make(map[string][]*member),
	}
	// Feed seqs start at the start time in microseconds, so they keep
	// increasing across restarts and a page resuming with since never
	// mistakes a new event for one it has seen.
	h.seq.Store(uint64(cfg.Now().UnixMicro()))

	m := melody.New()
	m.Config.WriteWait = cfg.WriteWait
	m.Config.PongWait = cfg.PongWait
	m.Config.PingPeriod = cfg.PingPeriod
	m.Config.MaxMessageSize = cfg.MaxMessage
	// melody's per-session queue (a channel it allocates whole) holds only
	// the frame being written, maxInflight, plus two slots for close frames
	// (member.close, then melody.Close's own at exit), so closing never finds
	// it full. Frames beyond it wait in the member's queue, which is what lets
	// them coalesce into batch frames (see member.send).
	m.Config.MessageBufferSize = maxInflight + 2
	m.Upgrader = &websocket.Upgrader{
		// Zero sizes, and no WriteBufferPool, make gorilla reuse the HTTP
		// server's 4 KiB bufio reader and writer of the hijacked connection
		// as its buffers instead of allocating its own. net/http keeps both
		// alive for as long as the handler runs, and melody's read loop runs
		// in the handler, so a pool would add buffers, not save one: measured
		// (BENCHMARKS.md), the idle heap per session is the same with a pool,
		// and a busy room then also takes a pooled buffer per write.
		ReadBufferSize:   0,
		WriteBufferSize:  0,
		WriteBufferPool:  nil,
		HandshakeTimeout: 10 * time.Second,
		// Checked before the upgrade already (with a JSON answer); kept here
		// too so the upgrader can never be left open to every origin.
		CheckOrigin: h.originAllowed,
	}
	m.HandleConnect(h.onConnect)
	m.HandleDisconnect(h.onDisconnect)
	m.HandleMessage(h.onMessage)
	m.HandleMessageBinary(h.onBinary)
	m.HandleSentMessage(h.onSent)
	m.HandleSentMessageBinary(h.onSentBinary)
	m.HandleError(h.onError)
	h.m = m
	return h
}

// Limits reports what welcome announces.
func (h *Hub) limits() limits {
	l := limits{Inline: h.cfg.Inline, Message: h.cfg.MaxMessage}
	if c := h.store.Config(); c.Uploads {
		l.Upload = c.MaxUpload
	}
	return l
}

// joinRequest is what the handshake validated.
type joinRequest struct {
	room, name, browser string
	since               uint64
	batch               bool
}

// ServeHTTP validates the handshake (room, name, since, token, origin) and
// answers a refusal with an HTTP status and a JSON body before any upgrade,
// so that a page can tell a refusal from an outage.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, status, code, msg := h.validate(r)
	if status != 0 {
		h.log.Debug("handshake refused", "status", status, "code", code, "remote", r.RemoteAddr)
		h.cfg.Metrics.HandshakeRefusals.WithLabelValues(refusalReason(status)).Inc()
		writeRefusal(w, status, code, msg)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		h.cfg.Metrics.HandshakeRefusals.WithLabelValues("not_websocket").Inc()
		writeRefusal(w, http.StatusUpgradeRequired, codeBadRequest, "this URL takes a WebSocket handshake")
		return
	}
	if req.browser == "" {
		req.browser = randomHex(16)
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
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		h.cfg.Metrics.HandshakeRefusals.WithLabelValues("shutting_down").Inc()
		writeRefusal(w, http.StatusServiceUnavailable, codeInternal, "server is shutting down")
		return
	}
	h.sessions.Add(1)
	h.mu.Unlock()
	// The session runs on a goroutine of the hub's, and this handler returns
	// as soon as the connection is upgraded: net/http then lets go of its
	// serving goroutine (and that goroutine's deep stack) and of the
	// response, instead of keeping them for the session's whole life, which
	// is what melody's blocking HandleRequest would do. w is not touched
	// after the upgrade, so returning is safe; until then we wait.
	go func() {
		defer h.sessions.Done()
		defer mb.upgradeDone() // the upgrade failed: onConnect never ran
		if err := h.m.HandleRequestWithKeys(w, r, map[string]any{memberKey: mb}); err != nil {
			h.log.Debug("upgrade failed", "err", err, "remote", r.RemoteAddr)
		}
	}()
	<-mb.upgraded
}

// refusalReason is the metrics label of a refused handshake.
func refusalReason(status int) string {
	switch status {
	case http.StatusForbidden:
		return "origin"
	case http.StatusUnauthorized:
		return "token"
	}
	return "bad_request"
}

func writeRefusal(w http.ResponseWriter, status int, code, msg string) {
	var body refusal
	body.Error.Code, body.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (h *Hub) validate(r *http.Request) (req joinRequest, status int, code, msg string) {
	q := r.URL.Query()
	if !h.originAllowed(r) {
		return req, http.StatusForbidden, codeForbidden, "cross-site origin refused"
	}
	if h.cfg.Token != "" && !h.tokenOK(r) {
		return req, http.StatusUnauthorized, codeUnauth, "a valid token is required"
	}
	req.room = q.Get("room")
	if req.room == "" {
		req.room = h.cfg.DefaultRoom
	}
	if !validRoom(req.room) {
		return req, http.StatusBadRequest, codeBadRequest, "room must be 1-64 of A-Z a-z 0-9 . _ -"
	}
	var ok bool
	if req.name, ok = cleanName(q.Get("name")); !ok {
		return req, http.StatusBadRequest, codeBadRequest, "name must be 1-32 printable characters"
	}
	if req.name == "" {
		req.name = "guest-" + randomHex(2)
	}
	if s := q.Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return req, http.StatusBadRequest, codeBadRequest, "since must be a feed seq"
		}
		req.since = n
	}
	req.batch = q.Get("batch") == "1"
	if c, err := r.Cookie(browserCookie); err == nil && len(c.Value) == 32 && isHex(c.Value) {
		req.browser = c.Value
	}
	return req, 0, "", ""
}

func (h *Hub) tokenOK(r *http.Request) bool {
	got := r.URL.Query().Get("token")
	if a := r.Header.Get("Authorization"); got == "" && strings.HasPrefix(a, "Bearer ") {
		got = strings.TrimPrefix(a, "Bearer ")
	}
	if c, err := r.Cookie(tokenCookie); got == "" && err == nil {
		got = c.Value
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.cfg.Token)) == 1
}

// originAllowed accepts requests without Origin (non-browser clients), the
// server's own origin, and the configured list.
func (h *Hub) originAllowed(r *http.Request) bool {
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
	return slices.ContainsFunc(h.cfg.AllowOrigins, func(a string) bool {
		return a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), o)
	})
}

func validRoom(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// cleanName trims s and checks it is at most 32 printable characters; an
// empty result is valid and means "pick a default".
func cleanName(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 32 {
		return "", false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", false
		}
	}
	return s, true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than returning an error)
	return hex.EncodeToString(b)
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// memberOf is the one way back from a melody session to its member.
func memberOf(s *melody.Session) *member {
	v, _ := s.Get(memberKey)
	m, _ := v.(*member)
	return m
}

func (h *Hub) onConnect(s *melody.Session) {
	mb := memberOf(s)
	mb.s = s
	defer mb.upgradeDone() // after join: welcome is queued before ServeHTTP returns
	h.mu.Lock()
	r := h.rooms[mb.roomName]
	if r == nil {
		r = newRoom(h, mb.roomName)
		h.rooms[mb.roomName] = r
		h.cfg.Metrics.Rooms.Inc()
	}
	h.browsers[mb.browser] = append(h.browsers[mb.browser], mb)
	closing := h.closing
	h.mu.Unlock()
	r.join(mb)
	h.cfg.Metrics.Sessions.Inc()
	h.cfg.Metrics.Joins.Inc()
	mb.log.Info("session open", "name", mb.ref().Name, "remote", remoteHost(s.Request))
	if closing {
		// Its upgrade was under way when Shutdown took the member list:
		// it gets the same 1001, not melody's bare close at the deadline.
		mb.close(closeGoingAway, "server shutting down")
	}
}

func (h *Hub) onDisconnect(s *melody.Session) {
	mb := memberOf(s)
	mb.cancel()
	h.mu.Lock()
	list := slices.DeleteFunc(h.browsers[mb.browser], func(x *member) bool { return x == mb })
	if len(list) == 0 {
		delete(h.browsers, mb.browser)
	} else {
		h.browsers[mb.browser] = list
	}
	h.mu.Unlock()
	name := mb.ref().Name
	mb.room.leave(mb)
	code := int(mb.closeCode.Load())
	if code == 0 {
		code = websocket.CloseAbnormalClosure // ended without a close frame
	}
	h.cfg.Metrics.Sessions.Dec()
	h.cfg.Metrics.Leaves.Inc()
	h.cfg.Metrics.Closes.WithLabelValues(closeLabel(code)).Inc()
	framesOut, bytesOut := mb.sentTotals()
	level := slog.LevelInfo
	if code == websocket.CloseNormalClosure || code == websocket.CloseGoingAway {
		level = slog.LevelDebug // expected: a page closed, or the server is stopping
	}
	mb.log.Log(context.Background(), level, "session closed", "name", name,
		"duration", h.cfg.Now().Sub(mb.joined).Round(time.Millisecond),
		"frames_in", mb.framesIn.Load(), "bytes_in", mb.bytesIn.Load(), "frames_out", framesOut, "bytes_out", bytesOut, "close_code", code)
}

// removeRoom drops r from the registry if it is still empty; called by the
// room after its last member left.
func (h *Hub) removeRoom(r *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rooms[r.name] == r && r.empty() {
		delete(h.rooms, r.name)
		r.stop()
		h.cfg.Metrics.Rooms.Dec()
	}
}

func (h *Hub) onError(s *melody.Session, err error) {
	mb := memberOf(s)
	if mb == nil {
		return
	}
	switch {
	case errors.Is(err, melody.ErrMessageBufferFull):
		// member.send keeps the queue below its capacity, so this means a
		// frame was written past that accounting: treat it as overflow.
		mb.close(closeTryAgainLater, "send queue overflow")
	case errors.Is(err, websocket.ErrReadLimit):
		mb.closeCode.Store(closeTooBig) // gorilla has sent the 1009 itself
		mb.log.Info("message over the limit", "limit", h.cfg.MaxMessage)
	case errors.As(err, new(*websocket.CloseError)):
		var ce *websocket.CloseError
		errors.As(err, &ce)
		mb.closeCode.CompareAndSwap(0, int32(ce.Code)) // the peer closed first
	case errors.Is(err, melody.ErrWriteClosed):
	default:
		mb.log.Debug("session error", "err", err)
	}
}

// RecordFetch puts an HTTP fetch of path (bytes long) in the feed: in the
// room of the session whose page made it, when its browser cookie names a
// live session, otherwise in the default room as "anonymous (ADDRESS)".
func (h *Hub) RecordFetch(r *http.Request, path string, bytes int64) {
	h.cfg.Metrics.Fetches.WithLabelValues(viaHTTP).Inc()
	rm, who := h.attribute(r)
	if rm == nil {
		return
	}
	rm.record(Event{Who: who.Name, Action: actionFetch, Path: path, Via: viaHTTP, Bytes: bytes})
}

// attribute finds who made an HTTP request, and the room to tell.
func (h *Hub) attribute(r *http.Request) (*room, memberRef) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, err := r.Cookie(browserCookie); err == nil {
		if list := h.browsers[c.Value]; len(list) > 0 {
			mb := list[len(list)-1]
			return mb.room, mb.ref()
		}
	}
	return h.rooms[h.cfg.DefaultRoom], memberRef{Name: "anonymous (" + remoteHost(r) + ")"}
}

func remoteHost(r *http.Request) string {
	addr := r.RemoteAddr
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		addr = addr[:i]
	}
	return strings.Trim(addr, "[]")
}

// Shutdown sends close 1001 to every session and refuses new ones. Register
// it with http.Server.RegisterOnShutdown: Shutdown does not touch hijacked
// connections, so without it WebSockets would outlive the server.
func (h *Hub) Shutdown() {
	h.mu.Lock()
	h.closing = true
	var all []*member
	for _, r := range h.rooms {
		all = append(all, r.snapshot()...)
	}
	h.mu.Unlock()
	for _, mb := range all {
		mb.close(closeGoingAway, "server shutting down")
	}
}

// Close waits for sessions and the hub's goroutines to end, then stops
// melody. When ctx ends first, remaining sessions are closed abruptly.
func (h *Hub) Close(ctx context.Context) error {
	h.Shutdown()
	done := make(chan struct{})
	go func() {
		h.sessions.Wait()
		h.workers.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("hub: sessions still open at deadline: %w", ctx.Err())
	}
	if cerr := h.m.Close(); cerr != nil && !errors.Is(cerr, melody.ErrClosed) && err == nil {
		err = fmt.Errorf("hub: closing melody: %w", cerr)
	}
	if err != nil {
		<-done // melody.Close ended every session; their goroutines return promptly
	}
	return err
}

// RecordUpload tells the room of the uploader (or the default room) that an
// upload finished, and puts it in the feed.
func (h *Hub) RecordUpload(r *http.Request, res files.PutResult) {
	h.cfg.Metrics.Uploads.WithLabelValues("finished").Inc()
	h.cfg.Metrics.UploadBytes.Add(float64(res.Size))
	rm, who := h.attribute(r)
	if rm == nil {
		return
	}
	rm.broadcastJSON(uploadFinishFrame{Kind: kindUploadFinish, By: who, Path: res.Path, Size: res.Size, SHA256: res.SHA256})
	rm.record(Event{Who: who.Name, Action: actionUpload, Path: res.Path, Via: viaHTTP, Bytes: res.Size})
}

// RecordUploadProgress tells the room of the uploader (or the default room)
// how far an upload of path got: received of size bytes (-1: unknown).
// files throttles the calls, a few a second per upload; nothing goes to
// the feed, which keeps only finished actions.
func (h *Hub) RecordUploadProgress(r *http.Request, path string, received, size int64) {
	rm, who := h.attribute(r)
	if rm == nil {
		return
	}
	rm.broadcastJSON(uploadProgressFrame{Kind: kindUploadProgress, By: who, Path: path, Received: received, Size: size})
}

// RecordUploadAbort tells the room of the uploader (or the default room)
// that an upload it saw start will not finish, with a one-word reason.
func (h *Hub) RecordUploadAbort(r *http.Request, path string, received int64, err error) {
	h.cfg.Metrics.Uploads.WithLabelValues("aborted").Inc()
	rm, who := h.attribute(r)
	if rm == nil {
		return
	}
	rm.broadcastJSON(uploadAbortFrame{Kind: kindUploadAbort, By: who, Path: path, Received: received, Reason: abortReason(err)})
}
