package hub

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"filehub/internal/randid"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
	"golang.org/x/time/rate"
)

// member is one session in one room: the typed value the handshake passes to
// melody and memberOf reads back.
type member struct {
	// The send path (see send), first and together: a fan-out to ten
	// thousand members touches these, and little else, of each. sendMu is
	// held while a frame is handed to melody (a non-blocking channel
	// send), so frames never overtake one another, whichever goroutine
	// sends them.
	sendMu  sync.Mutex
	closing atomic.Bool
	batch   bool
	// offers: the member asked (offers=1) to be told of uploads shared as
	// they arrive, not sent their bytes; it fetches the file when its
	// person asks. Set at the join, never changed.
	offers  bool
	writing inflight
	queued  int64 // bytes waiting or being written: what the byte budget bounds
	// oldest is when the oldest undelivered frame was queued (UnixNano), 0
	// when none: kept under sendMu, read by the hub's sweeper without it.
	oldest atomic.Int64
	text   fifo // text frames waiting for the writer, oldest first
	binary fifo // stream chunks waiting for the writer
	// framesOut and bytesOut count what was queued, for the session's log line.
	framesOut, bytesOut int64
	h                   *Hub
	s                   *melody.Session // set in onConnect, before any frame is sent

	room     *room        // set in onConnect before the member is visible to anyone; never changes
	roomName string       // the room it asked to join
	id       string       // public, shown to the room
	browser  string       // secret, the cookie that attributes HTTP fetches
	remote   string       // the client's address, for logs and anonymous feed entries
	group    netip.Prefix // its network, whose content budget it spends (clientGroup)
	since    uint64       // the join's since, with hasSince
	epoch    string       // the join's epoch
	was      string       // the member id the page had before (the join's was), if it said
	joined   time.Time
	hasSince bool

	// name is guarded by room.mu: renames must see the room's names.
	name string

	// Only the session's read goroutine (melody's message handler) uses
	// these. strikes is made on first use: most sessions never need it,
	// and a limiter is a hundred bytes.
	limiter *rate.Limiter
	strikes *rate.Limiter // refusals beyond one a second, once rate limited
	// fetches is the feed budget of its page's HTTP fetches (Config.FetchEvents),
	// made on first use by whichever request comes first.
	fetches atomic.Pointer[rate.Limiter]
	// uploads is the budget of its page's upload announcements
	// (Config.UploadEvents), made on first use.
	uploads atomic.Pointer[rate.Limiter]

	closeCode atomic.Int32
	framesIn  atomic.Int64
	bytesIn   atomic.Int64

	// done is closed when the session has ended (onDisconnect): it stops
	// the session's streams and the wait of closeConn.
	done chan struct{}
	// setup hands the new session from onConnect to ServeHTTP, which joins
	// it to its room, and back; nil once the session runs (see onConnect).
	setup chan struct{}
	pos   int // index in room.members, guarded by room.mu

	streamMu   sync.Mutex
	streams    map[uint32]*stream // made on first use
	nextStream uint32
}

func newMember(h *Hub, req joinRequest) *member {
	return &member{
		h:        h,
		id:       randid.Hex(4),
		roomName: req.room,
		browser:  req.browser,
		remote:   req.remote,
		group:    clientGroup(req.remote),
		batch:    req.batch,
		offers:   req.offers,
		since:    req.since,
		hasSince: req.hasSince,
		epoch:    req.epoch,
		was:      req.was,
		name:     req.name,
		joined:   h.cfg.Now(),
		limiter:  rate.NewLimiter(h.cfg.Rate, h.cfg.Burst),
		done:     make(chan struct{}),
		setup:    make(chan struct{}),
	}
}

// limited reports whether a message over the rate limit is one too many:
// beyond its burst, a session may keep being refused about once a second
// forever (a page retrying); faster than that it is abusing.
func (mb *member) limited() bool {
	if mb.strikes == nil {
		mb.strikes = rate.NewLimiter(1, mb.h.cfg.Strikes)
	}
	return !mb.strikes.Allow()
}

// log is the session's logger. It is built when needed, not kept: a logger
// with attributes costs the better part of a kilobyte, and a session logs a
// handful of lines in its life.
func (mb *member) log() *slog.Logger {
	return mb.h.log.With("room", mb.roomName, "session", mb.id)
}

// ref is how the room sees this member; it reads name under the room lock.
func (mb *member) ref() MemberRef {
	mb.room.mu.Lock()
	defer mb.room.mu.Unlock()
	return MemberRef{ID: mb.id, Name: mb.name}
}

// maxBatch bounds a batch frame built from a session's queue, in bytes: big
// enough that a busy room needs few writes, small enough that one write does
// not hold the session's other frames back for long. A single larger frame
// still goes out, alone.
const maxBatch = 64 << 10

// batchPool recycles the buffers of batch frames: sent returns one as soon as
// it has been written, so a busy room does not allocate a batch per write.
var batchPool = sync.Pool{New: func() any { return new([]byte) }}

// inflight is the frame a member's writer has: in melody's one-slot queue or
// being written.
type inflight struct {
	busy   bool    // there is one
	binary bool    // it is a stream chunk
	at     int64   // when its oldest message was queued (UnixNano)
	size   int64   // its bytes
	batch  *[]byte // the batch buffer it was built in, back to batchPool once written
}

// outFrame is a frame waiting in a member's queue.
type outFrame struct {
	b     []byte
	at    int64  // when it was queued (UnixNano)
	seq   uint64 // the member's count of frames queued before it: their order
	batch bool   // a text frame that is already a batch (built by the room)
}

// fifo is a queue of frames: a slice consumed from head, grown on demand,
// and kept while the session is busy (a queue that drains between bursts
// must not allocate its array again for each); the sweeper lets go of it
// once the session is idle (member.trim), so an idle session holds none.
type fifo struct {
	q    []outFrame
	head int
}

func (f *fifo) len() int { return len(f.q) - f.head }

func (f *fifo) push(x outFrame) {
	if f.head > 0 && len(f.q) == cap(f.q) {
		// Reuse the consumed part rather than grow: a session that never
		// drains completely must not grow its array forever.
		n := copy(f.q, f.q[f.head:])
		clear(f.q[n:])
		f.q, f.head = f.q[:n], 0
	}
	f.q = append(f.q, x)
}

// pending is what waits, oldest first; valid until the next push or pop.
func (f *fifo) pending() []outFrame { return f.q[f.head:] }

// pop drops the first n frames.
func (f *fifo) pop(n int) {
	clear(f.q[f.head : f.head+n])
	f.head += n
	if f.head == len(f.q) {
		f.head = 0
		f.q = f.q[:0]
	}
}

func (f *fifo) reset() { f.q, f.head = nil, 0 }

// send queues one encoded text frame for this session. It never blocks and
// never fails the caller: a session that falls too far behind is closed with
// 1013 instead (see admitLocked), so one stalled client cannot slow the room,
// and it reconnects with since and epoch to catch up.
//
// The frame goes straight to melody when the session's writer is idle;
// otherwise it waits until sent, called when the frame being written is
// done, hands the writer everything that waited, packed into one batch frame
// for a batch=1 session (gorilla's chat example does the same: one write for
// all the messages queued meanwhile). A quiet room gains no latency; a busy
// one writes fewer, larger frames.
//
// Text frames go before stream chunks that wait (see sent): a chunk carries
// its stream's number, so the order between them does not matter to a
// client, while a chat line stuck behind a download's chunks on a slow link
// would count as lag. file-end is only sent once its stream's chunks have
// been written (see pump), so it never overtakes them.
func (mb *member) send(frame []byte) { mb.enqueue(frame, false, false, time.Now().UnixNano()) }

// sendAt is send for a fan-out, which reads the clock once for all members.
func (mb *member) sendAt(frame []byte, now int64) { mb.enqueue(frame, false, false, now) }

// sendBatchAt is sendAt for a batch frame the room built for its batch=1
// members; the member may splice it into a larger one.
func (mb *member) sendBatchAt(frame []byte, now int64) { mb.enqueue(frame, true, false, now) }

// sendBinary queues one stream chunk. melody's sent callback for it
// (onSentBinary) calls sent, then chunkSent, which paces streams.
func (mb *member) sendBinary(frame []byte) { mb.enqueue(frame, false, true, time.Now().UnixNano()) }

func (mb *member) enqueue(b []byte, batch, binary bool, now int64) {
	mb.sendMu.Lock()
	if mb.closing.Load() {
		mb.sendMu.Unlock()
		return
	}
	if reason := mb.admitLocked(int64(len(b)), now); reason != "" {
		mb.sendMu.Unlock() // close takes no lock of ours, and logs
		mb.h.cfg.Metrics.SlowDrops.WithLabelValues(reason).Inc()
		mb.close(closeTryAgainLater, "could not keep up ("+reason+")")
		return
	}
	mb.framesOut++
	mb.bytesOut += int64(len(b))
	mb.queued += int64(len(b))
	f := outFrame{b: b, at: now, seq: uint64(mb.framesOut), batch: batch}
	switch {
	case !mb.writing.busy:
		mb.writeLocked(f, binary)
	case binary:
		mb.binary.push(f)
	default:
		mb.text.push(f)
	}
	mb.setOldestLocked()
	mb.sendMu.Unlock()
}

// admitLocked applies the slow-consumer policy to a frame of size bytes
// queued at now: it names the rule the session broke, or returns "".
// A frame alone is always admitted, whatever its size, so a session that
// keeps up never fails for one large frame.
func (mb *member) admitLocked(size, now int64) string {
	if mb.queued > 0 && mb.queued+size > mb.h.cfg.QueueBytes {
		return dropBytes
	}
	if o := mb.oldest.Load(); o != 0 && now-o > int64(mb.h.cfg.MaxLag) {
		return dropLag
	}
	return ""
}

// Reasons of a slow-consumer drop, for the log and the metrics.
const (
	dropLag   = "lag"
	dropBytes = "bytes"
)

// writeLocked hands f to melody. melody's
// queue has room for it (the writer is idle), so this never blocks nor
// fails for a full queue; when the session is closed nothing is written and
// the bytes are forgotten.
func (mb *member) writeLocked(f outFrame, binary bool) {
	var err error
	if binary {
		err = mb.s.WriteBinary(f.b)
	} else {
		err = mb.s.Write(f.b)
	}
	if err != nil { // ErrSessionClosed: nothing will be written
		mb.queued -= int64(len(f.b))
		return
	}
	w := &mb.writing
	w.busy, w.binary, w.size, w.at = true, binary, int64(len(f.b)), f.at
	if binary {
		// A chunk's wait counts from when it is written: streams pace
		// themselves (Config.Window), and chunks give way to text frames.
		w.at = time.Now().UnixNano()
	}
}

// setOldestLocked publishes when the oldest undelivered frame was queued:
// the one being written, or the first text frame waiting.
func (mb *member) setOldestLocked() {
	var o int64
	if mb.writing.busy {
		o = mb.writing.at
	}
	if q := mb.text.pending(); len(q) > 0 && (o == 0 || q[0].at < o) {
		o = q[0].at
	}
	mb.oldest.Store(o)
}

// sent is called by melody's write goroutine once a text or binary frame has
// been written. It hands the writer what waited meanwhile: text frames
// first (for a batch=1 session the leading run of them, packed into one
// batch frame, else the next one), then a stream chunk. A chunk queued
// before the first text frame waiting gets every other write, so neither
// starves the other; a chunk never goes before a text frame queued ahead of
// it (a stream's file-start before its bytes).
func (mb *member) sent() {
	mb.sendMu.Lock()
	defer mb.sendMu.Unlock()
	w := &mb.writing
	wasBinary := w.binary
	mb.queued -= w.size
	if w.batch != nil { // the frame just written was our batch: its buffer is free
		*w.batch = (*w.batch)[:0]
		batchPool.Put(w.batch)
	}
	*w = inflight{}
	defer mb.setOldestLocked()
	if mb.closing.Load() {
		mb.text.reset() // the session is going: what waited is dropped
		mb.binary.reset()
		mb.queued = 0
		return
	}
	if b := mb.binary.pending(); len(b) > 0 {
		t := mb.text.pending()
		if len(t) == 0 || b[0].seq < t[0].seq && !wasBinary {
			f := b[0]
			mb.binary.pop(1)
			mb.writeLocked(f, true)
			return
		}
	}
	q := mb.text.pending()
	if len(q) == 0 {
		return
	}
	n := 1
	if mb.batch {
		n = batchRun(q)
	}
	if n == 1 {
		f := q[0]
		mb.text.pop(1)
		mb.writeLocked(f, false)
		return
	}
	bp := batchPool.Get().(*[]byte)
	*bp = appendBatch((*bp)[:0], q[:n])
	f := outFrame{b: *bp, at: q[0].at}
	var size int64
	for _, x := range q[:n] {
		size += int64(len(x.b))
	}
	mb.text.pop(n)
	// The batch stands for the frames it holds: the budget counted them,
	// and counts the batch from now on.
	mb.queued += int64(len(f.b)) - size
	mb.writeLocked(f, false)
	if mb.writing.busy {
		mb.writing.batch = bp
	} else {
		batchPool.Put(bp)
	}
}

// batchRun counts the leading frames of q that fit in one batch frame of
// at most maxBatch bytes (at least one).
func batchRun(q []outFrame) int {
	size := len(batchPrefix) + len(batchSuffix)
	for i, f := range q {
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
	if f.batch {
		return f.b[len(batchPrefix) : len(f.b)-len(batchSuffix)]
	}
	return f.b
}

// sendJSON encodes v and sends it to this session alone.
func (mb *member) sendJSON(v any) {
	b, err := marshal(v)
	if err != nil {
		mb.log().Error("encoding a frame", "err", err)
		return
	}
	mb.h.cfg.Metrics.countOut(b, 1)
	mb.send(b)
}

// sendError answers a request with an error frame carrying its id.
func (mb *member) sendError(id string, err error) {
	code, msg := errorCode(err)
	if code == codeInternal {
		mb.log().Error("request failed", "err", err)
	}
	mb.h.cfg.Metrics.Errors.WithLabelValues(code).Inc()
	mb.sendJSON(errorFrame{Kind: kindError, ID: id, Code: code, Message: msg})
}

// closeGrace bounds how long closing a session may take: the close frame
// gets this long to be written (it waits for the frame being written, if
// any), and the client this long to answer it. A client that stalled gets
// its connection cut instead, so no goroutine waits out WriteWait on it.
const closeGrace = 250 * time.Millisecond

// close ends the session with a close frame, once, from any goroutine,
// melody's handlers included; it takes no lock of the member's and never
// blocks (melody may call onError, hence close, from inside a write under
// sendMu). What waited in the queues is dropped: a session closed for 1013
// is behind anyway, and one closed for 1001 reconnects elsewhere; both
// reconnect with since and epoch.
//
// The close frame is written with gorilla's WriteControl, beside melody's
// writer rather than behind it: a close frame queued behind a write that
// never finishes never arrives (the client would see 1006 after WriteWait).
func (mb *member) close(code int, reason string) {
	if !mb.closing.CompareAndSwap(false, true) {
		return
	}
	mb.closeCode.Store(int32(code))
	level := slog.LevelInfo
	if code == closeGoingAway {
		level = slog.LevelDebug
	}
	mb.log().Log(context.Background(), level, "closing session", "code", code, "reason", reason)
	if !mb.h.goWorker(func() { mb.closeConn(code, reason) }) {
		mb.s.WebsocketConnection().Close() // the hub is stopped: no grace
	}
}

// closeConn writes the close frame and makes sure the connection ends
// within about 2×closeGrace: when the client answers (the read loop ends),
// or by cutting it.
func (mb *member) closeConn(code int, reason string) {
	conn := mb.s.WebsocketConnection()
	msg := websocket.FormatCloseMessage(code, reason)
	if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeGrace)); err != nil {
		conn.Close() // the writer is stuck on a stalled peer, or the connection is gone
		return
	}
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-mb.done:
	case <-t.C:
		conn.Close() // the close frame went out; the client never answered
	}
}

// trim lets go of the queues' arrays when nothing waits in them: the
// sweeper calls it about once a second, so an idle session holds none.
func (mb *member) trim() {
	mb.sendMu.Lock()
	if mb.text.len() == 0 {
		mb.text.reset()
	}
	if mb.binary.len() == 0 {
		mb.binary.reset()
	}
	mb.sendMu.Unlock()
}

// sentTotals reports what was queued to the session, for its log line.
func (mb *member) sentTotals() (frames, bytes int64) {
	mb.sendMu.Lock()
	defer mb.sendMu.Unlock()
	return mb.framesOut, mb.bytesOut
}
