package hub

import (
	"bytes"
	"encoding/json"
	"time"
)

// Message is one broadcast to a room on its way from the publisher to the
// members of every node: an encoded frame, or a feed event, which becomes a
// frame once the room's history has given it its place.
type Message struct {
	// Frame is the encoded frame; nil for a feed event.
	Frame []byte
	// Event is a feed event. Its Seq and Prev are set where the history is
	// kept: by this node's room when it runs alone, by the engine behind the
	// Broker when nodes share one.
	Event *Event
	// Chat marks a chat or snippet frame, which the room's history keeps
	// for welcome.chat.
	Chat bool
	// To, when set, is the only member the frame is for: a reply that must
	// come after the room's frames queued before it (a pong). Such a
	// message is delivered on this node only, never published.
	To *member
}

// history reports whether m belongs to the room's history.
func (m *Message) history() bool { return m.Event != nil || m.Chat }

// Broker carries what is published to a room to every node that serves the
// room, this one included, where it is delivered to that node's members:
// the seam between "publish to a room" and "deliver to this node's
// members". The hub publishes only through it. Publish must not block for
// long: it is called from session read loops and HTTP handlers.
type Broker interface {
	Publish(room string, m *Message)
}

// localBroker is the broker of a single process: every member is here.
type localBroker struct{ h *Hub }

func (b localBroker) Publish(room string, m *Message) { b.h.deliver(room, m) }

// publish sends m to the room through the broker; a nil m (a frame that
// could not be encoded, already logged) is ignored.
func (h *Hub) publish(room string, m *Message) {
	if m != nil {
		h.cfg.Broker.Publish(room, m)
	}
}

// frame encodes v once as a message for a room; nil (logged) when it cannot
// be encoded, which publish ignores.
func (h *Hub) frame(v any) *Message {
	b, err := json.Marshal(v)
	if err != nil {
		h.log.Error("encoding a broadcast", "err", err)
		return nil
	}
	return &Message{Frame: b}
}

// publishFrame encodes v once and publishes it to the room.
func (h *Hub) publishFrame(room string, v any) { h.publish(room, h.frame(v)) }

// deliver queues m for this node's members of the room. It only queues: the
// room's own goroutine does the fan-out. A message for a room with no
// member here is dropped, unless it belongs to the history, which the room
// keeps for those who join later (an HTTP fetch in an empty default room).
func (h *Hub) deliver(name string, m *Message) {
	h.mu.RLock()
	if r := h.rooms[name]; r != nil || !m.history() {
		if r != nil {
			r.enqueue(m) // under h.mu: the room cannot be retired meanwhile
		}
		h.mu.RUnlock()
		return
	}
	h.mu.RUnlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.roomLocked(name); r != nil {
		r.enqueue(m)
	}
}

// enqueue adds m to the room's queue and starts its goroutine if it is not
// running. Called with h.mu held (read or write), so that the sweeper,
// which retires rooms under the write lock, never retires one with work.
func (r *room) enqueue(m *Message) {
	r.mu.Lock()
	if r.removed {
		r.mu.Unlock()
		return
	}
	r.inbox = append(r.inbox, m)
	start := !r.running
	r.running = true
	r.mu.Unlock()
	if start && !r.h.goWorker(r.run) {
		r.mu.Lock()
		r.running = false // the hub is stopped: nobody is left to deliver to
		r.mu.Unlock()
	}
}

// run delivers the room's queue until it is empty, then returns. Each pass
// takes everything queued, gives feed events their place in the history,
// and fans the frames out to a snapshot of the members. A busy room with
// batch=1 members waits out the rest of Config.BatchDelay after a pass, so
// that it writes one batch frame per member per BatchDelay rather than a
// frame per message; a quiet room sends at once.
func (r *room) run() {
	h := r.h
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		r.mu.Lock()
		if len(r.inbox) == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		msgs := r.inbox
		r.inbox, r.spare = r.spare[:0], nil
		start := time.Now()
		r.lastFlush = start
		r.recordLocked(msgs)
		members := r.members
		r.shared = true // leave copies the array before changing it
		batchers := r.batchers
		r.mu.Unlock()

		if len(members) > 0 { // else kept in the history; nobody here to send it to
			r.deliverPass(msgs, members, start)
		}
		clear(msgs)
		r.mu.Lock()
		r.spare = msgs[:0]
		r.mu.Unlock()

		if d := h.cfg.BatchDelay; d > 0 && batchers > 0 {
			if wait := d - time.Since(start); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-timer.C:
				case <-h.done: // shutting down: the members are being closed
					r.mu.Lock()
					r.running = false
					r.inbox = nil
					r.mu.Unlock()
					return
				}
			}
		}
	}
}

// deliverPass encodes the feed events of a pass and fans its frames out to
// members, in order: runs of broadcast frames to everyone, each frame meant
// for one member (Message.To) to that member in its place.
func (r *room) deliverPass(msgs []*Message, members []*member, start time.Time) {
	h := r.h
	now := start.UnixNano()
	frames := make([][]byte, 0, len(msgs))
	flush := func() {
		if len(frames) > 0 {
			r.fanout(frames, members, now)
			h.cfg.Metrics.observeFanout(frames, len(members), time.Since(start))
			frames = frames[:0]
		}
	}
	for _, m := range msgs {
		if m.Event != nil {
			b, err := json.Marshal(feedFrame{Kind: kindFeed, Event: *m.Event})
			if err != nil {
				h.log.Error("encoding a feed event", "room", r.name, "err", err)
				continue
			}
			m.Frame = b
		}
		if m.To != nil {
			flush()
			m.To.sendAt(m.Frame, now) // a member that left meanwhile drops it
			continue
		}
		frames = append(frames, m.Frame)
	}
	flush()
}

// recordLocked gives the pass's feed events their seq (unless the broker
// did) and keeps feed events and chat in the history, in delivery order.
func (r *room) recordLocked(msgs []*Message) {
	cfg := &r.h.cfg
	for _, m := range msgs {
		switch {
		case m.Event != nil:
			e := m.Event
			if e.Seq == 0 {
				e.Seq = r.h.seq.Add(1)
				e.Prev = r.hist.lastSeq
			}
			r.hist.addEvent(*e, cfg.FeedSize)
		case m.Chat:
			r.hist.addChat(m.Frame, cfg.ChatHistory, cfg.ChatHistoryBytes)
		}
	}
}

// fanout queues frames to members, outside the room lock. A batch frame is
// built once per pass, and only when a member asked for batches.
func (r *room) fanout(frames [][]byte, members []*member, now int64) {
	var batch []byte
	for _, mb := range members {
		if len(frames) > 1 && mb.batch {
			if batch == nil {
				batch = buildBatch(frames)
			}
			mb.sendBatchAt(batch, now)
			continue
		}
		for _, f := range frames {
			mb.sendAt(f, now)
		}
	}
}

func buildBatch(frames [][]byte) []byte {
	n := len(batchPrefix) + len(batchSuffix) + len(frames)
	for _, f := range frames {
		n += len(f)
	}
	var b bytes.Buffer
	b.Grow(n)
	b.Write(batchPrefix)
	for i, f := range frames {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(f)
	}
	b.Write(batchSuffix)
	return b.Bytes()
}
