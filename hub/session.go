package hub

// A session's life: joining its room once upgraded, leaving it, and what
// melody reports on the way.

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
)

// memberOf is the one way back from a melody session to its member.
func memberOf(s *melody.Session) *member {
	v, _ := s.Get(memberKey)
	m, _ := v.(*member)
	return m
}

// onConnect hands the new session to ServeHTTP, which joins it to its
// room, and waits until it has. It runs on the session's goroutine before
// melody reads a message, so the welcome, queued by the join, is the
// session's first frame whatever it sends.
func (h *Hub) onConnect(s *melody.Session) {
	mb := memberOf(s)
	mb.s = s
	// Nothing reads the request again; melody would keep it, and its
	// headers, for the session's whole life.
	s.Request = nil
	setup := mb.setup
	mb.setup = nil
	setup <- struct{}{}
	<-setup
}

// joinWait bounds how long a join waits for its room to open (the broker
// replaying its history and roster) and for its name to be claimed.
const joinWait = 10 * time.Second

// join adds mb to its room and tells the room, or closes it: with 1001 when
// the hub is shutting down (its upgrade was under way when Shutdown took
// the member list), with 1013 when the broker cannot serve (it reconnects
// and tries again).
func (h *Hub) join(mb *member) {
	h.mu.Lock()
	r := h.roomLocked(mb.roomName)
	if r == nil {
		h.mu.Unlock()
		mb.close(closeGoingAway, "server shutting down")
		return
	}
	r.mu.Lock()
	r.pending++ // the sweeper leaves the room alone until this join is done
	open := !r.opening
	r.opening = true
	r.mu.Unlock()
	h.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.pending--
		r.mu.Unlock()
	}()
	if b := h.cfg.Broker; b != nil {
		ctx, cancel := context.WithTimeout(context.Background(), joinWait)
		defer cancel()
		if open {
			h.openRoom(ctx, r)
		}
		err := r.waitOpen(ctx)
		if err == nil {
			var name string
			j := Joining{ID: mb.id, Name: mb.name, Browser: browserKey(mb.browser), Was: mb.was}
			if name, err = b.Join(ctx, r.name, j); err == nil {
				mb.name = name
			}
		}
		if err != nil {
			mb.log().Warn("cannot join", "err", err)
			mb.close(closeTryAgainLater, "the cluster is unavailable; try again")
			return
		}
	}
	mb.room = r
	r.mu.Lock()
	presence := r.joinLocked(mb)
	name := mb.name
	r.mu.Unlock()
	// Only now, with its room and name, may HTTP fetches be put to its name.
	h.bmu.Lock()
	h.browsers[mb.browser] = append(h.browsers[mb.browser], mb)
	h.bmu.Unlock()
	if b := h.cfg.Broker; b != nil {
		b.SetBrowser(browserKey(mb.browser), r.name, MemberRef{ID: mb.id, Name: name})
	}
	h.publish(r.name, presence)
	h.cfg.Metrics.Sessions.Inc()
	h.cfg.Metrics.Joins.Inc()
	mb.log().Info("session open", "name", name, "remote", mb.remote)
}

// openRoom asks the broker for the room's history and roster on this node,
// and lets the joins waiting for it go on.
func (h *Hub) openRoom(ctx context.Context, r *room) {
	epoch, err := h.cfg.Broker.OpenRoom(ctx, r.name)
	if err == nil {
		// The broker has queued the history and roster; the room's pass
		// must have taken them in before a welcome is built.
		reached := make(chan struct{})
		h.mu.RLock()
		r.enqueue(&Message{local: local{reached: reached}})
		h.mu.RUnlock()
		select {
		case <-reached:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	r.mu.Lock()
	if err == nil {
		r.hist.epoch = epoch
	} else {
		r.openErr = err
	}
	r.mu.Unlock()
	close(r.opened)
}

// waitOpen waits for the room to be open on this node.
func (r *room) waitOpen(ctx context.Context) error {
	select {
	case <-r.opened:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.openErr
}

func (h *Hub) onDisconnect(s *melody.Session) {
	mb := memberOf(s)
	close(mb.done)
	if mb.room == nil { // closed at connect: it never joined
		return
	}
	h.bmu.Lock()
	list := slices.DeleteFunc(h.browsers[mb.browser], func(x *member) bool { return x == mb })
	if len(list) == 0 {
		delete(h.browsers, mb.browser)
	} else {
		h.browsers[mb.browser] = list
	}
	h.bmu.Unlock()
	name := mb.ref().Name
	h.publish(mb.room.name, mb.room.leave(mb))
	if b := h.cfg.Broker; b != nil {
		b.Leave(mb.room.name, mb.id, name)
		if len(list) == 0 {
			b.SetBrowser(browserKey(mb.browser), mb.room.name, MemberRef{ID: mb.id})
		}
	}
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
	mb.log().Log(context.Background(), level, "session closed", "name", name,
		"duration", h.cfg.Now().Sub(mb.joined).Round(time.Millisecond),
		"frames_in", mb.framesIn.Load(), "bytes_in", mb.bytesIn.Load(), "frames_out", framesOut, "bytes_out", bytesOut, "close_code", code)
}

func (h *Hub) onError(s *melody.Session, err error) {
	mb := memberOf(s)
	if mb == nil {
		return
	}
	switch {
	case errors.Is(err, melody.ErrMessageBufferFull):
		// member.send never hands melody a second frame, so this means a
		// frame was written past that accounting: treat it as overflow.
		mb.close(closeTryAgainLater, "send queue overflow")
	case errors.Is(err, websocket.ErrReadLimit):
		mb.closeCode.Store(closeTooBig) // gorilla has sent the 1009 itself
		mb.log().Info("message over the limit", "limit", h.cfg.MaxMessage)
	case errors.As(err, new(*websocket.CloseError)):
		var ce *websocket.CloseError
		errors.As(err, &ce)
		mb.closeCode.CompareAndSwap(0, int32(ce.Code)) // the peer closed first
	case errors.Is(err, melody.ErrWriteClosed), errors.Is(err, websocket.ErrCloseSent):
	default:
		mb.log().Debug("session error", "err", err)
	}
}

func (h *Hub) onSent(s *melody.Session, _ []byte) { memberOf(s).sent() }

func (h *Hub) onSentBinary(s *melody.Session, frame []byte) {
	mb := memberOf(s)
	mb.sent()
	mb.chunkSent(frame)
}
