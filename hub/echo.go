package hub

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
	"golang.org/x/time/rate"
)

// Echo is a WebSocket echo endpoint for operators: every text and binary
// message comes back as it was sent. It lets one check that a proxy passes
// upgrades, ping/pong and large frames before blaming the room. It shares
// nothing with the rooms but the origin and token rules.
type Echo struct {
	m *melody.Melody
	h *Hub // for the origin and token rules

	mu        sync.Mutex
	closed    bool           // set by Close: no new session, late ones closed at connect
	sessions  sync.WaitGroup // Add only under mu while !closed, so Close's Wait is safe
	closeOnce sync.Once
}

// Echo limits: large enough to test a proxy's frame size, small enough
// that the endpoint cannot be used to make the server hold much.
const (
	echoMaxMessage = 1 << 20 // 1 MiB
	echoRate       = 20      // messages per second, burst echoBurst
	echoBurst      = 40
	echoQueue      = 8 // echoes waiting to be written; one more slot is kept for the close frame
	echoKey        = "filehub.echo"
)

// echoSession is the state of one echo session, in its melody keys.
type echoSession struct {
	lim     *rate.Limiter
	pending atomic.Int32 // echoes queued and not yet written
	closing atomic.Bool
}

// close sends one close frame. It always finds room: echo never queues more
// than echoQueue frames, and melody's queue has one slot more.
func (es *echoSession) close(s *melody.Session, code int, reason string) {
	if es.closing.CompareAndSwap(false, true) {
		_ = s.CloseWithMsg(melody.FormatCloseMessage(code, reason))
	}
}

func echoOf(s *melody.Session) *echoSession {
	v, _ := s.Get(echoKey)
	return v.(*echoSession)
}

// NewEcho returns the echo endpoint; it follows h's origin and token rules.
func (h *Hub) NewEcho() *Echo {
	e := &Echo{h: h}
	m := melody.New()
	m.Config.MaxMessageSize = echoMaxMessage
	m.Config.MessageBufferSize = echoQueue + 1
	m.Config.PingPeriod = h.cfg.PingPeriod
	m.Config.PongWait = h.cfg.PongWait
	m.Config.WriteWait = h.cfg.WriteWait
	m.Upgrader = &websocket.Upgrader{WriteBufferPool: &sync.Pool{}, HandshakeTimeout: 10 * time.Second, CheckOrigin: h.originAllowed}
	echo := func(s *melody.Session, msg []byte, write func([]byte) error) {
		es := echoOf(s)
		switch {
		case es.closing.Load():
		case !es.lim.Allow():
			es.close(s, closePolicy, "echo rate limit")
		case es.pending.Load() >= echoQueue:
			es.close(s, closeTryAgainLater, "not reading the echoes")
		default:
			es.pending.Add(1)
			_ = write(msg)
		}
	}
	sent := func(s *melody.Session, _ []byte) { echoOf(s).pending.Add(-1) }
	m.HandleMessage(func(s *melody.Session, msg []byte) { echo(s, msg, s.Write) })
	m.HandleMessageBinary(func(s *melody.Session, msg []byte) { echo(s, msg, s.WriteBinary) })
	m.HandleSentMessage(sent)
	m.HandleSentMessageBinary(sent)
	m.HandleConnect(func(s *melody.Session) {
		e.mu.Lock()
		closed := e.closed
		e.mu.Unlock()
		if closed { // upgraded while Close was closing the others
			echoOf(s).close(s, closeGoingAway, "server shutting down")
		}
	})
	e.m = m
	return e
}

// ServeHTTP upgrades to an echo session after the room's origin and token checks.
func (e *Echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !e.h.originAllowed(r) {
		writeRefusal(w, http.StatusForbidden, codeForbidden, "cross-site origin refused")
		return
	}
	if e.h.cfg.Token != "" && !e.h.tokenOK(r) {
		writeRefusal(w, http.StatusUnauthorized, codeUnauth, "a valid token is required")
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		writeRefusal(w, http.StatusUpgradeRequired, codeBadRequest, "this URL takes a WebSocket handshake")
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		writeRefusal(w, http.StatusServiceUnavailable, codeInternal, "server is shutting down")
		return
	}
	e.sessions.Add(1)
	e.mu.Unlock()
	defer e.sessions.Done()
	keys := map[string]any{echoKey: &echoSession{lim: rate.NewLimiter(echoRate, echoBurst)}}
	if err := e.m.HandleRequestWithKeys(w, r, keys); err != nil {
		e.h.log.Debug("echo upgrade failed", "err", err)
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
		echoOf(s).close(s, closeGoingAway, "server shutting down")
	}
	e.sessions.Wait()
	// Only now: melody's Close stops its hub goroutine, and a session still
	// upgrading would then block forever registering with it.
	_ = e.m.Close()
}
