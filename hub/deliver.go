package hub

import (
	"bytes"
	"time"
)

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

// Renamed implements Node: the member's new name, and a rename presence
// to this node's members of the room (the others learn it from their
// brokers), its own page among them.
func (h *Hub) Renamed(room, id, name string) {
	h.mu.RLock()
	r := h.rooms[room]
	h.mu.RUnlock()
	if r == nil {
		return
	}
	for _, mb := range r.snapshot() {
		if mb.id == id {
			r.rename(mb, name) // with a broker: no presence of its own
			h.deliver(room, &Message{Presence: &Presence{Event: eventRename, Who: MemberRef{ID: id, Name: name}, Node: h.node()}})
			return
		}
	}
}

// Reset implements Node: the room's history starts again in epoch once
// what was queued before has been delivered; its roster of other nodes'
// members is forgotten (the broker tells it again); this node's members
// are closed with 1013.
func (h *Hub) Reset(room, epoch string) {
	h.mu.RLock()
	r := h.rooms[room]
	if r != nil {
		r.enqueue(&Message{local: local{reset: epoch}})
	}
	h.mu.RUnlock()
	if r == nil {
		return
	}
	members := r.snapshot()
	h.log.Warn("room history lost; members reconnect", "room", room, "epoch", epoch, "members", len(members))
	for _, mb := range members {
		mb.close(closeTryAgainLater, "the room's history was lost; reconnect")
	}
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
		var change *KeptChange
		if r.recordLocked(msgs) > 0 && h.cfg.History != nil {
			c := r.hist.change(r.hist.keptEntries(msgs))
			change = &c
		}
		members := r.members
		r.shared = true // leave copies the array before changing it
		batchers := r.batchers
		r.mu.Unlock()

		if change != nil {
			// Kept before anyone is shown it: what a member saw survives
			// a restart, a crash included.
			r.save(*change)
		}

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

// save hands the store what a pass added to the history. A store that
// fails is logged and counted, and the room goes on in memory: chat is
// worth more than its record.
func (r *room) save(c KeptChange) {
	h := r.h
	start := time.Now()
	err := h.cfg.History.SaveRoom(r.name, c)
	h.cfg.Metrics.HistorySaveSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		h.cfg.Metrics.HistoryErrors.Inc()
		h.log.Error("save room history", "room", r.name, "err", err)
	}
}

// linger is how long a room's goroutine waits for more work before it
// ends.
const linger = 20 * time.Millisecond

// deliverPass encodes the feed events of a pass and fans its frames out to
// members, in order: runs of broadcast frames to everyone, each frame meant
// for one member (local.to) to that member in its place.
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
		case m.reached != nil, m.reset != "":
			continue
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
		if m.to != nil {
			flush()
			m.to.sendAt(m.Frame, now) // a member that left meanwhile drops it
			continue
		}
		frames = append(frames, m.Frame)
	}
	flush()
}

// recordLocked gives the pass's feed events and chat their seq (unless
// the broker did) and keeps them in the history, in delivery order, and
// applies presence changes to the roster. It returns what the pass added
// to the history, for the store.
func (r *room) recordLocked(msgs []*Message) (added int) {
	cfg := &r.h.cfg
	for _, m := range msgs {
		switch {
		case m.Event != nil:
			e := m.Event
			if e.Seq == 0 {
				e.Seq = r.h.seq.Add(1)
				e.Prev = r.hist.lastFeed
			}
			r.hist.addEvent(*e, cfg.FeedSize)
			added++
		case m.Chat:
			if m.Seq == 0 {
				m.Seq = r.h.seq.Add(1)
				m.Prev = r.hist.lastChat
			}
			m.Frame = withSeq(m.Frame, m.Seq)
			r.hist.addChat(chatEntry{seq: m.Seq, prev: m.Prev, frame: m.Frame}, cfg.ChatHistory, cfg.ChatHistoryBytes)
			added++
		case m.Presence != nil:
			m.Frame = r.presenceLocked(m.Presence)
		case m.reached != nil:
			close(m.reached)
		case m.reset != "":
			r.resetLocked(m.reset)
		}
	}
	return added
}

// resetLocked starts the history again in epoch and forgets the members
// on other nodes, whom the broker's new roster tells again.
func (r *room) resetLocked(epoch string) {
	r.hist = history{epoch: epoch}
	for id, m := range r.remote {
		if r.names[m.name] == id {
			delete(r.names, m.name)
		}
	}
	r.remote = nil
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
