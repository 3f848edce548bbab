package hub

import (
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
	"golang.org/x/time/rate"
)

// Echo is a WebSocket echo endpoint for operators: every text and binary
// message comes back as it was sent. It lets one check that a proxy passes
// upgrades, ping/pong and large frames before blaming the room. It shares
// nothing with the rooms but the origin rules.
type Echo struct {
	m        *melody.Melody
	h        *Hub // for the origin and token rules
	sessions sync.WaitGroup
}

// Echo limits: large enough to test a proxy's frame size, small enough
// that the endpoint cannot be used to make the server hold much.
const (
	echoMaxMessage = 1 << 20 // 1 MiB
	echoRate       = 20      // messages per second, burst echoBurst
	echoBurst      = 40
	echoQueue      = 8
)

// NewEcho returns the echo endpoint; it follows h's origin and token rules.
func (h *Hub) NewEcho() *Echo {
	e := &Echo{h: h}
	m := melody.New()
	m.Config.MaxMessageSize = echoMaxMessage
	m.Config.MessageBufferSize = echoQueue
	m.Config.PingPeriod = h.cfg.PingPeriod
	m.Config.PongWait = h.cfg.PongWait
	m.Config.WriteWait = h.cfg.WriteWait
	m.Upgrader = &websocket.Upgrader{WriteBufferPool: &sync.Pool{}, HandshakeTimeout: 10 * time.Second, CheckOrigin: h.originAllowed}
	echo := func(s *melody.Session, msg []byte, write func([]byte) error) {
		lim, _ := s.Get("limiter")
		if !lim.(*rate.Limiter).Allow() {
			_ = s.CloseWithMsg(melody.FormatCloseMessage(closePolicy, "echo rate limit"))
			return
		}
		_ = write(msg)
	}
	m.HandleMessage(func(s *melody.Session, msg []byte) { echo(s, msg, s.Write) })
	m.HandleMessageBinary(func(s *melody.Session, msg []byte) { echo(s, msg, s.WriteBinary) })
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
	e.sessions.Add(1)
	defer e.sessions.Done()
	keys := map[string]any{"limiter": rate.NewLimiter(echoRate, echoBurst)}
	if err := e.m.HandleRequestWithKeys(w, r, keys); err != nil {
		e.h.log.Debug("echo upgrade failed", "err", err)
	}
}

// Close ends every echo session with 1001 and waits for them.
func (e *Echo) Close() {
	if err := e.m.CloseWithMsg(melody.FormatCloseMessage(closeGoingAway, "server shutting down")); err != nil {
		e.h.log.Debug("closing echo", "err", err)
	}
	e.sessions.Wait()
}
