// Package echo is a WebSocket echo endpoint for operators: every text and
// binary message comes back as it was sent. It lets one check that a proxy
// passes upgrades, ping/pong and large frames before blaming the room. It
// shares nothing with the rooms; the token gate in front of it and the
// origin rule are the server's.
package echo

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"filehub/origin"
	"filehub/refusal"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
	"golang.org/x/time/rate"
)

// Config configures the endpoint. Zero values mean the documented default.
type Config struct {
	// AllowOrigins lists the cross-site origins allowed besides the
	// server's own (see package origin). Defaults to none.
	AllowOrigins []string
	// PingPeriod, PongWait and WriteWait are as the room's. Default to
	// 25 s, 35 s and 10 s.
	PingPeriod, PongWait, WriteWait time.Duration
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Limits: large enough to test a proxy's frame size, small enough that the
// endpoint cannot be used to make the server hold much.
const (
	maxMessage = 1 << 20 // 1 MiB
	echoRate   = 20      // messages per second, burst echoBurst
	echoBurst  = 40
	maxPending = 8 // echoes waiting to be written; one more slot is kept for the close frame
	key        = "filehub.echo"
)

// Close codes, as the room's.
const (
	closeGoingAway     = 1001
	closeInvalidData   = 1007 // a text message that is not UTF-8 (RFC 6455 section 8.1)
	closePolicy        = 1008
	closeTryAgainLater = 1013
)

// Echo is the endpoint. Create it with New, serve it at /_/echo, stop it
// with Close.
type Echo struct {
	m   *melody.Melody
	cfg Config

	mu        sync.Mutex
	closed    bool           // set by Close: no new session, late ones closed at connect
	sessions  sync.WaitGroup // Add only under mu while !closed, so Close's Wait is safe
	closeOnce sync.Once
}

// session is the state of one echo session, in its melody keys.
type session struct {
	lim     *rate.Limiter
	pending atomic.Int32 // echoes queued and not yet written
	closing atomic.Bool
}

// close sends one close frame. It always finds room: echo never queues more
// than maxPending frames, and melody's queue has one slot more.
func (es *session) close(s *melody.Session, code int, reason string) {
	if es.closing.CompareAndSwap(false, true) {
		_ = s.CloseWithMsg(melody.FormatCloseMessage(code, reason))
	}
}

func sessionOf(s *melody.Session) *session {
	v, _ := s.Get(key)
	return v.(*session)
}

// New returns the endpoint.
func New(cfg Config) *Echo {
	if cfg.PingPeriod <= 0 {
		cfg.PingPeriod = 25 * time.Second
	}
	if cfg.PongWait <= 0 {
		cfg.PongWait = 35 * time.Second
	}
	if cfg.WriteWait <= 0 {
		cfg.WriteWait = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Echo{cfg: cfg}
	m := melody.New()
	m.Config.MaxMessageSize = maxMessage
	m.Config.MessageBufferSize = maxPending + 1
	m.Config.PingPeriod = cfg.PingPeriod
	m.Config.PongWait = cfg.PongWait
	m.Config.WriteWait = cfg.WriteWait
	m.Upgrader = &websocket.Upgrader{
		WriteBufferPool:  &sync.Pool{},
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      func(r *http.Request) bool { return origin.Allowed(r, cfg.AllowOrigins) },
	}
	echo := func(s *melody.Session, msg []byte, write func([]byte) error) {
		es := sessionOf(s)
		switch {
		case es.closing.Load():
		case !es.lim.Allow():
			es.close(s, closePolicy, "echo rate limit")
		case es.pending.Load() >= maxPending:
			es.close(s, closeTryAgainLater, "not reading the echoes")
		default:
			es.pending.Add(1)
			_ = write(msg)
		}
	}
	sent := func(s *melody.Session, _ []byte) { sessionOf(s).pending.Add(-1) }
	m.HandleMessage(func(s *melody.Session, msg []byte) {
		if !utf8.Valid(msg) { // gorilla does not check text frames; echoing one back would send invalid text
			sessionOf(s).close(s, closeInvalidData, "text message is not UTF-8")
			return
		}
		echo(s, msg, s.Write)
	})
	m.HandleMessageBinary(func(s *melody.Session, msg []byte) { echo(s, msg, s.WriteBinary) })
	m.HandleSentMessage(sent)
	m.HandleSentMessageBinary(sent)
	m.HandleConnect(func(s *melody.Session) {
		e.mu.Lock()
		closed := e.closed
		e.mu.Unlock()
		if closed { // upgraded while Close was closing the others
			sessionOf(s).close(s, closeGoingAway, "server shutting down")
		}
	})
	e.m = m
	return e
}

// ServeHTTP upgrades to an echo session.
func (e *Echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !origin.Allowed(r, e.cfg.AllowOrigins) {
		refusal.Write(w, http.StatusForbidden, "forbidden", "cross-site origin refused")
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		refusal.Write(w, http.StatusUpgradeRequired, "bad_request", "this URL takes a WebSocket handshake")
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		refusal.Write(w, http.StatusServiceUnavailable, "internal", "server is shutting down")
		return
	}
	e.sessions.Add(1)
	e.mu.Unlock()
	defer e.sessions.Done()
	keys := map[string]any{key: &session{lim: rate.NewLimiter(echoRate, echoBurst)}}
	if err := e.m.HandleRequestWithKeys(w, r, keys); err != nil {
		e.cfg.Logger.Debug("echo upgrade failed", "err", err)
	}
}

// Close ends every echo session with 1001, waits for them, then stops
// melody. Every call returns only once that is done. The wait is bounded:
// each close frame has its slot, and each write before it WriteWait.
func (e *Echo) Close() { e.closeOnce.Do(e.close) }

func (e *Echo) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	sessions, _ := e.m.Sessions()
	for _, s := range sessions {
		sessionOf(s).close(s, closeGoingAway, "server shutting down")
	}
	e.sessions.Wait()
	_ = e.m.Close()
}
