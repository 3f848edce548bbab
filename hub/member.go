package hub

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/olahol/melody"
	"golang.org/x/time/rate"
)

// member is one session in one room: the typed value the handshake passes to
// melody and memberOf reads back.
type member struct {
	h        *Hub
	id       string // public, shown to the room
	roomName string
	browser  string // secret, the cookie that attributes HTTP fetches
	batch    bool
	since    uint64
	joined   time.Time
	log      *slog.Logger

	s    *melody.Session // set in onConnect, before any frame is sent
	room *room           // set by room.join

	// name is guarded by room.mu: renames must see the room's names.
	name string

	// Only the session's read goroutine (melody's message handler) uses these.
	limiter *rate.Limiter
	strikes *rate.Limiter

	// pending counts frames handed to melody and not yet written; kept
	// under QueueSize so that melody's queue never overflows silently.
	pending   atomic.Int32
	closing   atomic.Bool
	closeCode atomic.Int32
	framesIn  atomic.Int64

	ctx    context.Context // ends when the session ends: stops its streams
	cancel context.CancelFunc

	streamMu   sync.Mutex
	streams    map[uint32]*stream
	nextStream uint32
}

func newMember(h *Hub, req joinRequest) *member {
	ctx, cancel := context.WithCancel(context.Background())
	id := randomHex(4)
	return &member{
		h:        h,
		id:       id,
		roomName: req.room,
		browser:  req.browser,
		batch:    req.batch,
		since:    req.since,
		name:     req.name,
		joined:   h.cfg.Now(),
		log:      h.log.With("room", req.room, "session", id),
		limiter:  rate.NewLimiter(h.cfg.Rate, h.cfg.Burst),
		// Beyond its burst, a session may keep being refused about once a
		// second forever (a page retrying); faster than that it is abusing.
		strikes: rate.NewLimiter(1, h.cfg.Strikes),
		ctx:     ctx,
		cancel:  cancel,
		streams: make(map[uint32]*stream),
	}
}

// ref is how the room sees this member; it reads name under the room lock.
func (mb *member) ref() memberRef {
	mb.room.mu.Lock()
	defer mb.room.mu.Unlock()
	return memberRef{ID: mb.id, Name: mb.name}
}

// send queues one encoded frame. It never blocks: a session whose queue is
// full is closed with 1013 instead, so one stalled client cannot slow the
// room, and it reconnects with since to catch up.
func (mb *member) send(frame []byte) {
	if !mb.reserve() {
		return
	}
	_ = mb.s.Write(frame) // ErrSessionClosed: the session is going anyway
}

// sendBinary is send for a binary frame.
func (mb *member) sendBinary(frame []byte) {
	if !mb.reserve() {
		return
	}
	_ = mb.s.WriteBinary(frame)
}

// reserve takes a slot of the session's queue, or closes the session with
// 1013 when none is left.
func (mb *member) reserve() bool {
	if mb.closing.Load() {
		return false
	}
	if mb.pending.Add(1) > int32(mb.h.cfg.QueueSize) {
		mb.pending.Add(-1)
		mb.close(closeTryAgainLater, "could not keep up")
		return false
	}
	return true
}

// sent is called by melody once a frame has been written.
func (mb *member) sent() { mb.pending.Add(-1) }

// sendJSON encodes v and sends it to this session alone.
func (mb *member) sendJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		mb.log.Error("encoding a frame", "err", err)
		return
	}
	mb.send(b)
}

// sendError answers a request with an error frame carrying its id.
func (mb *member) sendError(id string, err error) {
	code, msg := errorCode(err)
	if code == codeInternal {
		mb.log.Error("request failed", "err", err)
	}
	mb.sendJSON(errorFrame{Kind: kindError, ID: id, Code: code, Message: msg})
}

// close sends a close frame once. It is safe from any goroutine, melody's
// handlers included: the queue keeps two slots free for it (QueueSize+2), so
// the write never finds it full and never blocks.
func (mb *member) close(code int, reason string) {
	if !mb.closing.CompareAndSwap(false, true) {
		return
	}
	mb.closeCode.Store(int32(code))
	switch code {
	case closeGoingAway:
		mb.log.Debug("closing session", "code", code, "reason", reason)
	default:
		mb.log.Info("closing session", "code", code, "reason", reason)
	}
	mb.cancel()
	_ = mb.s.CloseWithMsg(melody.FormatCloseMessage(code, reason))
}
