package hub

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"
)

// room is one room: its members, its feed history and its outgoing queue.
//
// Broadcasts use group commit: a frame goes out at once when the room is
// idle; frames broadcast while a flush is under way wait and go out together
// in the next flush, as one batch frame to sessions that joined with batch=1.
// With a single publisher no flush is ever under way when the next frame
// comes (a flush only queues), so a room with batch=1 members that flushed
// less than Config.BatchDelay ago also waits out the rest of it, on a timer.
// A quiet room gains no latency, a busy one writes fewer, larger frames, and
// every session sees the room's frames in one order.
type room struct {
	h    *Hub
	name string

	mu      sync.Mutex
	members []*member // join order; index kept in pos
	pos     map[*member]int
	names   map[string]*member
	feed    []Event // the last FeedSize events, oldest first
	queue   [][]byte
	spare   [][]byte
	flusher bool // a goroutine is flushing queue
	shared  bool // a flush may be reading members' array

	// queued and flushed count the frames ever queued and ever taken by a
	// flush: a member that joins while frames wait gets only those queued
	// after its welcome (member.from), never one its welcome already covers.
	queued, flushed uint64
	batchers        int       // members that joined with batch=1
	lastFlush       time.Time // when the last flush started
	flushTimer      *time.Timer

	// Presence coalescing above PresenceThreshold.
	joined, left int
	timer        *time.Timer
	stopped      bool
}

func newRoom(h *Hub, name string) *room {
	return &room{h: h, name: name, pos: make(map[*member]int), names: make(map[string]*member)}
}

func (r *room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members) == 0
}

// snapshot copies the member list.
func (r *room) snapshot() []*member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.members)
}

// join adds mb with a name unique in the room, sends it welcome, and tells
// the room. welcome is queued under the lock, before any broadcast that can
// include mb, so it is always the session's first frame.
func (r *room) join(mb *member) {
	h := r.h
	r.mu.Lock()
	mb.room = r
	mb.name = r.uniqueName(mb.name, nil)
	r.names[mb.name] = mb
	r.pos[mb] = len(r.members)
	r.members = append(r.members, mb)
	mb.from = r.queued
	if mb.batch {
		r.batchers++
	}
	w := welcomeFrame{
		Kind:    kindWelcome,
		You:     memberRef{ID: mb.id, Name: mb.name},
		Room:    r.name,
		Count:   len(r.members),
		Members: r.refsLocked(100),
		Feed:    r.feedAfterLocked(mb.since),
		Limits:  h.limits(),
		Version: h.cfg.Version,
	}
	mb.sendJSON(w)
	crowded := r.coalescingLocked(len(r.members))
	if crowded {
		r.joined++
		r.armTimerLocked()
	}
	count := len(r.members)
	r.mu.Unlock()
	if !crowded {
		r.broadcastJSON(presenceFrame{Kind: kindPresence, Event: eventJoin, Who: memberRef{ID: mb.id, Name: mb.name}, Count: count})
	}
}

// leave removes mb and tells the room; the last one out removes the room.
func (r *room) leave(mb *member) {
	r.mu.Lock()
	i, ok := r.pos[mb]
	if !ok {
		r.mu.Unlock()
		return
	}
	if r.shared {
		r.members = slices.Clone(r.members)
		r.shared = false
	}
	last := len(r.members) - 1
	r.members[i] = r.members[last]
	r.pos[r.members[i]] = i
	r.members[last] = nil
	r.members = r.members[:last]
	delete(r.pos, mb)
	delete(r.names, mb.name)
	if mb.batch {
		r.batchers--
	}
	count := len(r.members)
	who := memberRef{ID: mb.id, Name: mb.name}
	crowded := r.coalescingLocked(count + 1)
	if crowded {
		r.left++
		r.armTimerLocked()
	}
	r.mu.Unlock()
	if count == 0 {
		r.h.removeRoom(r)
		return
	}
	if !crowded {
		r.broadcastJSON(presenceFrame{Kind: kindPresence, Event: eventLeave, Who: who, Count: count})
	}
}

// rename gives mb a new name, unique in the room, and tells the room.
func (r *room) rename(mb *member, name string) {
	r.mu.Lock()
	if name == mb.name {
		r.mu.Unlock()
		return
	}
	delete(r.names, mb.name)
	mb.name = r.uniqueName(name, mb)
	r.names[mb.name] = mb
	f := presenceFrame{Kind: kindPresence, Event: eventRename, Who: memberRef{ID: mb.id, Name: mb.name}, Count: len(r.members)}
	r.mu.Unlock()
	r.broadcastJSON(f)
}

// uniqueName returns name, or name-2, name-3… if another member has it.
func (r *room) uniqueName(name string, self *member) string {
	taken := func(n string) bool {
		o, ok := r.names[n]
		return ok && o != self
	}
	if !taken(name) {
		return name
	}
	for i := 2; ; i++ {
		n := name + "-" + strconv.Itoa(i)
		if !taken(n) {
			return n
		}
	}
}

// refsLocked lists up to max members (all when max < 0).
func (r *room) refsLocked(max int) []memberRef {
	n := len(r.members)
	if max >= 0 && n > max {
		n = max
	}
	refs := make([]memberRef, n)
	for i, m := range r.members[:n] {
		refs[i] = memberRef{ID: m.id, Name: m.name}
	}
	return refs
}

// who lists every member, for a who request.
func (r *room) who() membersFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return membersFrame{Kind: kindMembers, Count: len(r.members), Members: r.refsLocked(-1)}
}

// feedAfterLocked returns the held events with seq > since (all when since is 0).
func (r *room) feedAfterLocked(since uint64) []Event {
	i, _ := slices.BinarySearchFunc(r.feed, since+1, func(e Event, s uint64) int {
		switch {
		case e.Seq < s:
			return -1
		case e.Seq > s:
			return 1
		}
		return 0
	})
	return slices.Clone(r.feed[i:])
}

// record adds e to the feed and broadcasts it. The seq is taken and the
// frame queued under one lock, so the feed and the room's frames agree on
// the order.
func (r *room) record(e Event) {
	e.At = r.h.cfg.Now().UTC()
	r.mu.Lock()
	e.Seq = r.h.seq.Add(1)
	if len(r.feed) == r.h.cfg.FeedSize {
		copy(r.feed, r.feed[1:])
		r.feed = r.feed[:len(r.feed)-1]
	}
	r.feed = append(r.feed, e)
	b, err := json.Marshal(feedFrame{Kind: kindFeed, Event: e})
	if err != nil {
		r.mu.Unlock()
		r.h.log.Error("encoding a feed event", "err", err)
		return
	}
	r.enqueueLocked(b)
}

// broadcastJSON encodes v once and sends it to every member.
func (r *room) broadcastJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		r.h.log.Error("encoding a broadcast", "err", err)
		return
	}
	r.mu.Lock()
	r.enqueueLocked(b)
}

// enqueueLocked queues frame and flushes the queue, now or (a busy room with
// batch=1 members) when BatchDelay has passed since the last flush. It
// unlocks r.mu.
func (r *room) enqueueLocked(frame []byte) {
	r.queue = append(r.queue, frame)
	r.queued++
	if r.flusher || r.flushTimer != nil {
		r.mu.Unlock() // the flush under way, or the one scheduled, takes it
		return
	}
	if d := r.h.cfg.BatchDelay; d > 0 && r.batchers > 0 && !r.stopped {
		if wait := d - time.Since(r.lastFlush); wait > 0 {
			r.h.workers.Add(1)
			r.flushTimer = time.AfterFunc(wait, r.flushLater)
			r.mu.Unlock()
			return
		}
	}
	r.flushLocked()
}

// flushLater is the scheduled flush of a busy room.
func (r *room) flushLater() {
	defer r.h.workers.Done()
	r.mu.Lock()
	r.flushTimer = nil
	if r.flusher || r.stopped {
		r.mu.Unlock()
		return
	}
	r.flushLocked()
}

// flushLocked flushes the queue until it stays empty, outside the lock
// while it writes. It unlocks r.mu.
func (r *room) flushLocked() {
	r.flusher = true
	for len(r.queue) > 0 {
		q := r.queue
		first := r.flushed
		r.flushed += uint64(len(q))
		r.lastFlush = time.Now()
		r.queue = r.spare[:0]
		// The snapshot shares r.members' array: leave copies it before
		// writing while shared is set, and join only appends past its end.
		snap := r.members
		r.shared = true
		start := r.lastFlush
		r.mu.Unlock()
		r.fanout(q, first, snap)
		r.h.cfg.Metrics.observeFanout(q, len(snap), time.Since(start))
		clear(q)
		r.mu.Lock()
		r.spare = q[:0]
	}
	r.flusher = false
	r.mu.Unlock()
}

// fanout writes frames, the room's frames first to first+len(frames)-1, to
// members, outside the room lock. A batch frame is built once per flush, and
// only when a member asked for batches.
func (r *room) fanout(frames [][]byte, first uint64, members []*member) {
	var batch []byte
	for _, mb := range members {
		fs := frames
		if mb.from > first { // joined while these waited: only what came after its welcome
			skip := mb.from - first
			if skip >= uint64(len(frames)) {
				continue
			}
			fs = frames[skip:]
			if mb.batch && len(fs) > 1 {
				mb.sendBatch(buildBatch(fs))
				continue
			}
		} else if len(fs) > 1 && mb.batch {
			if batch == nil {
				batch = buildBatch(fs)
			}
			mb.sendBatch(batch)
			continue
		}
		for _, f := range fs {
			mb.send(f)
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

// coalescingLocked tells whether presence goes out as count frames: in a
// room above PresenceThreshold (size counted with the member joining or
// leaving), and in any room whose count frames are still under way (the
// timer re-arms for as long as joins and leaves keep coming). Without that
// second rule a storm of joins and leaves in a room hovering around the
// threshold would send every member a frame per event, thousands a second.
func (r *room) coalescingLocked(size int) bool {
	return size > r.h.cfg.PresenceThreshold || r.timer != nil
}

// armTimerLocked schedules the next count frame of a crowded room.
func (r *room) armTimerLocked() {
	if r.timer != nil || r.stopped {
		return
	}
	r.h.workers.Add(1)
	r.timer = time.AfterFunc(r.h.cfg.PresenceInterval, r.flushPresence)
}

// flushPresence sends the count frame that join and leave held back.
func (r *room) flushPresence() {
	defer r.h.workers.Done()
	r.mu.Lock()
	r.timer = nil
	if r.stopped || (r.joined == 0 && r.left == 0) {
		r.mu.Unlock()
		return
	}
	f := countFrame{Kind: kindCount, Count: len(r.members), Joined: r.joined, Left: r.left}
	r.joined, r.left = 0, 0
	// Stay in count frames for one more interval: a timer that fires with
	// nothing to say ends them.
	r.armTimerLocked()
	r.mu.Unlock()
	r.broadcastJSON(f)
}

// stop cancels the presence timer of a room being removed.
func (r *room) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.timer != nil && r.timer.Stop() {
		r.timer = nil
		r.h.workers.Done()
	}
	if r.flushTimer != nil && r.flushTimer.Stop() {
		r.flushTimer = nil
		r.h.workers.Done()
	}
}
