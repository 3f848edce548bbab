package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
)

// Message is one broadcast to a room on its way from the publisher to the
// members of every node: an encoded frame, or what a node turns into one
// when it delivers it (a feed event, once the history has given it its
// place; a presence change, once the node knows the room's count; a
// share, once the node has read the file). It is JSON on the wire between
// nodes.
type Message struct {
	// Frame is the encoded frame, for messages that are one already.
	Frame json.RawMessage `json:"frame,omitempty"`
	// Event is a feed event. Its Seq (and Prev) are set where the history
	// is kept: by this node's room when it runs alone, by the broker when
	// nodes share one.
	Event *Event `json:"event,omitempty"`
	// Chat marks a chat or snippet frame, which the room's history keeps
	// for welcome.chat.
	Chat bool `json:"chat,omitempty"`
	// Presence is a join, leave or rename, anywhere in the room.
	Presence *Presence `json:"presence,omitempty"`
	// Share is a shared file: file bytes never travel between nodes, so
	// a node that receives a Share without Frame reads the file (from the
	// folder the nodes share) and inlines it. A broker sends Share alone.
	Share *Share `json:"share,omitempty"`
	// Elsewhere marks a message for the other nodes only: this node
	// delivers its own form itself (a growing share: its members follow
	// the upload on streams; the others get the plain share).
	Elsewhere bool `json:"-"`
	// Echo marks a history message this node delivered already when it
	// was published (a chat line, so that chat keeps working here when the
	// broker is unreachable): the room kept it then, so it is neither kept
	// again nor sent again.
	Echo bool `json:"-"`
	// To, when set, is the only member the frame is for: a reply that must
	// come after the room's frames queued before it (a pong). Such a
	// message is delivered on this node only, never published.
	To *member `json:"-"`
	// reached, when set, is closed by the pass that reaches the message:
	// everything queued before it has been applied.
	reached chan struct{}
}

// Presence is a change to a room's members. Node is the node the member is
// on ("" on a single node).
type Presence struct {
	Event string    `json:"event"` // eventJoin, eventLeave, eventRename
	Who   MemberRef `json:"who"`
	Node  string    `json:"node,omitempty"`
}

// Share is a shared file as it travels: the shared frame without content.
type Share struct {
	By MemberRef `json:"by"`
	fileMeta
	URL     string `json:"url"`
	Growing bool   `json:"growing,omitempty"` // still being uploaded: there is nothing to read yet
}

// history reports whether m belongs to the room's history.
func (m *Message) history() bool { return m.Event != nil || m.Chat }

// Broker is what lets several nodes (processes, on several machines) act
// as one room: it carries each room's broadcasts to every node serving it,
// keeps each room's history in one order, and knows who is in each room
// on every node. It is where publishing to a room meets delivering to a
// node's members. A single process has none (Config.Broker nil): the hub
// then keeps all of this itself, in memory.
//
// The hub publishes everything a room broadcasts through Publish, once.
// The broker hands each message to every node with members in the room,
// this one included, through Node.Deliver: exactly once per node, and
// history messages (feed events, chat) in one order, the same on every
// node, with the seq the history gave them. Presence comes the same way:
// the broker tells every node of each Join, Rename and Leave.
type Broker interface {
	// Attach gives the broker this node; New calls it once.
	Attach(n Node)
	// Node is this node's name, unique among the nodes.
	Node() string
	// OpenRoom makes this node receive room's messages, and returns once
	// the room's kept history and its members on other nodes have been
	// delivered (so that a welcome can hold them), with the epoch of the
	// history. CloseRoom stops it, once this node has no member in the room.
	OpenRoom(ctx context.Context, room string) (epoch string, err error)
	CloseRoom(room string)
	// Publish sends m to the room on every node. It must not block for
	// long: sessions' read loops and HTTP handlers call it.
	Publish(room string, m *Message)
	// Join registers member id in room under name, or under the first of
	// name-2, name-3… that nobody in the room has on any node, and returns
	// the name it got. Rename does the same for a new name; Leave
	// unregisters the member.
	Join(ctx context.Context, room, id, name string) (string, error)
	Rename(ctx context.Context, room, id, old, name string) (string, error)
	Leave(room, id, name string)
	// SetBrowser records that the page with browser (a hash of its cookie,
	// never the cookie) is member ref of room, so that another node serving
	// that page's HTTP fetches can name them; a zero ref forgets it, if ref
	// id still holds it. Browser looks a page up.
	SetBrowser(browser, room string, ref MemberRef)
	Browser(ctx context.Context, browser string) (room string, ref MemberRef, ok bool)
	// Err tells why the broker cannot serve now (nil when it can), for
	// /_/readyz and for refusing joins meanwhile.
	Err() error
}

// Node is the hub as its broker sees it.
type Node interface {
	// Deliver gives this node's members in room the message m.
	Deliver(room string, m *Message)
	// Members lists this node's members of room, for a broker that must
	// register them again (its engine lost them while unreachable).
	Members(room string) []MemberRef
}

// publish sends m to the room: through the broker to every node, or, on a
// single node, straight to this node's members. A nil m (a frame that could
// not be encoded, already logged) is ignored.
func (h *Hub) publish(room string, m *Message) {
	switch {
	case m == nil, m.Elsewhere && h.cfg.Broker == nil:
	case h.cfg.Broker != nil:
		h.cfg.Broker.Publish(room, m)
	default:
		h.deliver(room, m)
	}
}

// Deliver gives this node's members in room the message m: the broker
// calls it for what is published anywhere (Node).
func (h *Hub) Deliver(room string, m *Message) { h.deliver(room, m) }

// Members lists this node's members of room (Node).
func (h *Hub) Members(room string) []MemberRef {
	h.mu.RLock()
	r := h.rooms[room]
	h.mu.RUnlock()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	refs := make([]MemberRef, len(r.members))
	for i, mb := range r.members {
		refs[i] = MemberRef{ID: mb.id, Name: mb.name}
	}
	return refs
}

// node is this node's name: "" alone.
func (h *Hub) node() string {
	if h.cfg.Broker == nil {
		return ""
	}
	return h.nodeName
}

// frame encodes v once as a message for a room; nil (logged) when it cannot
// be encoded, which publish ignores.
func (h *Hub) frame(v any) *Message {
	b, err := marshal(v)
	if err != nil {
		h.log.Error("encoding a broadcast", "err", err)
		return nil
	}
	return &Message{Frame: b}
}

// publishFrame encodes v once and publishes it to the room.
func (h *Hub) publishFrame(room string, v any) { h.publish(room, h.frame(v)) }

// FolderChanged tells every room on this node of changes to the served
// folder, an fs frame each. Every node watches the folder it serves, so
// this never goes through the broker.
func (h *Hub) FolderChanged(changes ...Change) {
	if len(changes) == 0 {
		return
	}
	msgs := make([]*Message, 0, len(changes))
	for _, c := range changes {
		if m := h.frame(fsFrame{Kind: kindFS, Change: c}); m != nil {
			msgs = append(msgs, m)
		}
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, r := range h.rooms {
		r.enqueue(msgs...) // together: nothing comes between them
	}
}

// deliver queues m for this node's members of the room. It only queues: the
// room's own goroutine does the fan-out. A message for a room with no
// member here is dropped, unless it belongs to the history, which the room
// keeps for those who join later (an HTTP fetch in an empty default room).
func (h *Hub) deliver(name string, m *Message) {
	if m == nil {
		return
	}
	h.mu.RLock()
	// With a broker the history is the broker's: a room with no member
	// here has nothing to keep.
	if r := h.rooms[name]; r != nil || !m.history() || h.cfg.Broker != nil {
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

// enqueue adds ms to the room's queue and starts its goroutine if it is not
// running. Called with h.mu held (read or write), so that the sweeper,
// which retires rooms under the write lock, never retires one with work.
func (r *room) enqueue(ms ...*Message) {
	r.mu.Lock()
	if r.removed {
		r.mu.Unlock()
		return
	}
	r.inbox = append(r.inbox, ms...)
	start := !r.running
	r.running = true
	if r.waiting {
		select { // the goroutine lingers: this is its work
		case r.wake <- struct{}{}:
		default:
		}
	}
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
	wait := func(d time.Duration, wake <-chan struct{}) bool {
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-timer.C:
		case <-wake:
			timer.Stop() // since Go 1.23 no stale tick can follow a Stop
		case <-h.done: // shutting down: the members are being closed
			r.mu.Lock()
			r.running, r.waiting = false, false
			r.inbox = nil
			r.mu.Unlock()
			return false
		}
		return true
	}
	for {
		r.mu.Lock()
		if len(r.inbox) == 0 {
			// Stay a moment for more: a room with steady traffic (an HTTP
			// fetch a millisecond is a feed event a millisecond) keeps its
			// goroutine instead of starting one per message.
			r.waiting = true
			r.mu.Unlock()
			if !wait(linger, r.wake) {
				return
			}
			r.mu.Lock()
			r.waiting = false
			if len(r.inbox) == 0 {
				r.running = false
				r.mu.Unlock()
				return
			}
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

		// Gather before the next pass: a busy room with batch=1 members
		// writes one batch frame per member per BatchDelay; a room nobody
		// is in on this node (the default room, recording the anonymous
		// fetches of a busy server) keeps history at no one's expense.
		if d := h.cfg.BatchDelay; d > 0 && (batchers > 0 || len(members) == 0) {
			if left := d - time.Since(start); left > 0 && !wait(left, nil) {
				return
			}
		}
	}
}

// linger is how long a room's goroutine waits for more work before it
// ends.
const linger = 20 * time.Millisecond

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
		switch {
		case m.reached != nil:
			continue
		case m.Echo:
			continue // delivered here when it was published
		case m.Event != nil:
			b, err := marshal(feedFrame{Kind: kindFeed, Event: *m.Event})
			if err != nil {
				h.log.Error("encoding a feed event", "room", r.name, "err", err)
				continue
			}
			m.Frame = b
		case m.Share != nil && m.Frame == nil: // from another node
			m.Frame = h.shareFrame(m.Share)
		}
		if m.Frame == nil {
			continue // coalesced presence, or a share that could not be read
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
// did) and keeps feed events and chat in the history, in delivery order,
// and applies presence changes to the roster.
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
		case m.Chat && !m.Echo: // an echo was kept when it was delivered here
			r.hist.addChat(m.Frame, cfg.ChatHistory, cfg.ChatHistoryBytes)
		case m.Presence != nil:
			m.Frame = r.presenceLocked(m.Presence)
		case m.reached != nil:
			close(m.reached)
		}
	}
}

// fanout queues frames to members, outside the room lock. Batch frames
// are built once per pass, and only when a member asked for batches; each
// holds at most maxBatch bytes (a larger frame goes alone), so a pass of a
// thousand fs frames, or of thirty shares, is not one frame of megabytes
// that holds everything behind it until it is written.
func (r *room) fanout(frames [][]byte, members []*member, now int64) {
	var batches []packed
	for _, mb := range members {
		if len(frames) > 1 && mb.batch {
			if batches == nil {
				batches = buildBatches(frames)
			}
			for _, b := range batches {
				if b.batch {
					mb.sendBatchAt(b.frame, now)
				} else {
					mb.sendAt(b.frame, now)
				}
			}
			continue
		}
		for _, f := range frames {
			mb.sendAt(f, now)
		}
	}
}

// packed is a frame of a pass for batch=1 members: a batch frame, or a
// frame too large to share one, as it is.
type packed struct {
	frame []byte
	batch bool
}

// buildBatches packs runs of frames into batch frames of at most maxBatch
// bytes; a frame that does not fit with others goes alone, as it is.
func buildBatches(frames [][]byte) []packed {
	var out []packed
	for i := 0; i < len(frames); {
		size, j := len(batchPrefix)+len(batchSuffix), i
		for j < len(frames) && (j == i || size+len(frames[j])+1 <= maxBatch) {
			size += len(frames[j]) + 1
			j++
		}
		if j-i == 1 {
			out = append(out, packed{frame: frames[i]})
		} else {
			out = append(out, packed{frame: buildBatch(frames[i:j]), batch: true})
		}
		i = j
	}
	return out
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
