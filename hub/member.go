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
	from uint64          // set by room.join: the room's first frame after welcome

	// name is guarded by room.mu: renames must see the room's names.
	name string

	// Only the session's read goroutine (melody's message handler) uses these.
	limiter *rate.Limiter
	strikes *rate.Limiter

	// The send queue; see send. sendMu is held while a frame is handed to
	// melody (a non-blocking channel send), so frames never overtake one
	// another, whichever goroutine sends them.
	sendMu   sync.Mutex
	inflight int        // frames in melody's queue or being written, at most maxInflight
	queue    []outFrame // frames waiting for the writer: queue[head:], oldest first
	head     int
	written  *[]byte // the batch buffer being written, back to batchPool once sent
	// framesOut and bytesOut count what was queued, for the session's log line.
	framesOut, bytesOut int64

	closing   atomic.Bool
	closeCode atomic.Int32
	framesIn  atomic.Int64
	bytesIn   atomic.Int64

	ctx    context.Context // ends when the session ends: stops its streams
	cancel context.CancelFunc

	upgraded    chan struct{} // closed once the handshake is over, upgraded or not
	upgradeOnce sync.Once

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
		strikes:  rate.NewLimiter(1, h.cfg.Strikes),
		ctx:      ctx,
		cancel:   cancel,
		streams:  make(map[uint32]*stream),
		upgraded: make(chan struct{}),
	}
}

// upgradeDone lets ServeHTTP return: the connection is a session now, or
// the upgrade failed.
func (mb *member) upgradeDone() { mb.upgradeOnce.Do(func() { close(mb.upgraded) }) }

// ref is how the room sees this member; it reads name under the room lock.
func (mb *member) ref() memberRef {
	mb.room.mu.Lock()
	defer mb.room.mu.Unlock()
	return memberRef{ID: mb.id, Name: mb.name}
}

// maxInflight is how many frames of a session may be in melody's queue or
// being written at once. One keeps the writer busy, because sent refills the
// queue from the write goroutine itself before it looks for the next frame,
// and it is what makes frames coalesce: whatever arrives while a frame is
// being written waits in member.queue and leaves, for a batch=1 session, as
// one batch frame in one write. melody's own queue holds only these frames
// and the close frames (see New), so it costs three pointers a session.
const maxInflight = 1

// maxBatch bounds a batch frame built from a session's queue, in bytes: big
// enough that a busy room needs few writes, small enough that one write does
// not hold the session's other frames back for long. A single larger frame
// still goes out, alone.
const maxBatch = 64 << 10

// batchPool recycles the buffers of batch frames: sent returns one as soon as
// it has been written, so a busy room does not allocate a batch per write.
var batchPool = sync.Pool{New: func() any { return new([]byte) }}

// outFrame is a frame waiting in a member's queue.
type outFrame struct {
	b    []byte
	kind frameKind
}

type frameKind uint8

const (
	frameText   frameKind = iota
	frameBatch            // a text frame that is already a batch (built by the room)
	frameBinary           // a stream chunk: never batched, never reordered
)

// send queues one encoded text frame. It never blocks: a session whose queue
// holds QueueSize frames is closed with 1013 instead, so one stalled client
// cannot slow the room, and it reconnects with since to catch up.
//
// The frame goes straight to melody when the session's writer is idle;
// otherwise it waits in the member's queue until sent, called when the frame
// being written is done, hands the writer everything that waited, packed
// into one batch frame for a batch=1 session (gorilla's chat example does
// the same: one write for all the messages queued meanwhile). A quiet room
// gains no latency; a busy one writes fewer, larger frames.
func (mb *member) send(frame []byte) { mb.enqueue(outFrame{b: frame, kind: frameText}) }

// sendBatch is send for a batch frame the room built for its batch=1
// members; the member may splice it into a larger one.
func (mb *member) sendBatch(frame []byte) { mb.enqueue(outFrame{b: frame, kind: frameBatch}) }

// sendBinary queues one binary frame. It is never batched or reordered with
// text frames; melody's sent callback for it (onSentBinary) calls sent, then
// chunkSent, which paces streams.
func (mb *member) sendBinary(frame []byte) { mb.enqueue(outFrame{b: frame, kind: frameBinary}) }

func (mb *member) enqueue(f outFrame) {
	mb.sendMu.Lock()
	if mb.closing.Load() {
		mb.sendMu.Unlock()
		return
	}
	mb.framesOut++
	mb.bytesOut += int64(len(f.b))
	if mb.inflight < maxInflight && mb.head == len(mb.queue) {
		mb.writeLocked(f.b, f.kind == frameBinary)
		mb.sendMu.Unlock()
		return
	}
	if len(mb.queue)-mb.head >= mb.h.cfg.QueueSize {
		mb.sendMu.Unlock() // close needs no lock of ours, and logs
		mb.close(closeTryAgainLater, "could not keep up")
		return
	}
	if mb.head > 0 && len(mb.queue) == cap(mb.queue) {
		// Reuse the written part rather than grow: a session that never
		// drains completely must not grow its array forever.
		n := copy(mb.queue, mb.queue[mb.head:])
		clear(mb.queue[n:])
		mb.queue, mb.head = mb.queue[:n], 0
	}
	mb.queue = append(mb.queue, f)
	mb.sendMu.Unlock()
}

// writeLocked hands one frame to melody. melody's queue has room for it
// (inflight < maxInflight), so this never blocks nor fails for a full queue;
// it reports false when the session is closed and nothing will be written.
func (mb *member) writeLocked(b []byte, binary bool) bool {
	var err error
	if binary {
		err = mb.s.WriteBinary(b)
	} else {
		err = mb.s.Write(b)
	}
	if err != nil { // ErrSessionClosed
		return false
	}
	mb.inflight++
	return true
}

// sent is called by melody's write goroutine once a text or binary frame has
// been written. It hands the writer what waited meanwhile: for a batch=1
// session the leading run of text frames, packed into one batch frame, else
// the next frame alone.
func (mb *member) sent() {
	mb.sendMu.Lock()
	defer mb.sendMu.Unlock()
	mb.inflight--
	if mb.written != nil { // the frame just written was our batch: its buffer is free
		*mb.written = (*mb.written)[:0]
		batchPool.Put(mb.written)
		mb.written = nil
	}
	if mb.closing.Load() {
		mb.queue, mb.head = nil, 0 // the session is going: what waited is dropped
		return
	}
	q := mb.queue[mb.head:]
	if len(q) == 0 {
		return
	}
	n := 1
	if mb.batch && q[0].kind != frameBinary {
		n = batchRun(q)
	}
	ok := false
	if n == 1 {
		ok = mb.writeLocked(q[0].b, q[0].kind == frameBinary)
	} else {
		bp := batchPool.Get().(*[]byte)
		*bp = appendBatch((*bp)[:0], q[:n])
		if ok = mb.writeLocked(*bp, false); ok {
			mb.written = bp
		}
	}
	clear(q[:n])
	mb.head += n
	if !ok || mb.head == len(mb.queue) {
		mb.head = 0
		mb.queue = mb.queue[:0]
		if cap(mb.queue) > 64 {
			mb.queue = nil // a burst is over: an idle session holds no array
		}
	}
}

// batchRun counts the leading text frames of q that fit in one batch frame
// of at most maxBatch bytes (at least one).
func batchRun(q []outFrame) int {
	size := len(batchPrefix) + len(batchSuffix)
	for i, f := range q {
		if f.kind == frameBinary {
			return max(i, 1)
		}
		size += len(batchElems(f)) + 1
		if size > maxBatch {
			return max(i, 1)
		}
	}
	return len(q)
}

// appendBatch appends one batch frame holding frames, in order, to b. A
// frame that is already a batch is spliced in, never nested.
func appendBatch(b []byte, frames []outFrame) []byte {
	b = append(b, batchPrefix...)
	for i, f := range frames {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, batchElems(f)...)
	}
	return append(b, batchSuffix...)
}

// batchElems is what f contributes to a batch's frames array.
func batchElems(f outFrame) []byte {
	if f.kind == frameBatch {
		return f.b[len(batchPrefix) : len(f.b)-len(batchSuffix)]
	}
	return f.b
}

// sendJSON encodes v and sends it to this session alone.
func (mb *member) sendJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		mb.log.Error("encoding a frame", "err", err)
		return
	}
	mb.h.cfg.Metrics.countOut(b, 1)
	mb.send(b)
}

// sendError answers a request with an error frame carrying its id.
func (mb *member) sendError(id string, err error) {
	code, msg := errorCode(err)
	if code == codeInternal {
		mb.log.Error("request failed", "err", err)
	}
	mb.h.cfg.Metrics.Errors.WithLabelValues(code).Inc()
	mb.sendJSON(errorFrame{Kind: kindError, ID: id, Code: code, Message: msg})
}

// close sends a close frame once. It is safe from any goroutine, melody's
// handlers included, and takes no lock of the member's (melody may call
// onError, hence close, from inside a write under sendMu): melody's queue
// keeps two slots beyond maxInflight for close frames (see New), so the write
// never finds it full and never blocks. The frame in flight is written
// first; frames still waiting in the member's queue are dropped: a session
// closed for 1013 is behind anyway and reconnects with since.
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

// sentTotals reports what was queued to the session, for its log line.
func (mb *member) sentTotals() (frames, bytes int64) {
	mb.sendMu.Lock()
	defer mb.sendMu.Unlock()
	return mb.framesOut, mb.bytesOut
}
