package hub

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"
)

// room is one room on this node: its members here, its history, and the
// queue of what was published to it and waits to be delivered.
//
// Publishing only queues (deliver); a goroutine the room owns (run),
// started when the queue has work and gone once it is empty, does the
// fan-out, so a session's read loop, an HTTP handler or an upload's body
// reader never writes to other sessions. Each pass takes the whole queue,
// records what belongs to the history, and snapshots the members, under
// the room's lock; a join, under the same lock, sees exactly the history
// the earlier passes recorded and receives everything the later ones
// deliver: nothing twice, nothing missed, welcome first.
type room struct {
	h    *Hub
	name string

	mu      sync.Mutex
	members []*member // each one's index is its pos
	names   map[string]*member
	hist    history
	inbox   []*Message // published, waiting for run
	spare   []*Message
	running bool      // run is under way
	shared  bool      // a pass may be reading members' array
	removed bool      // no longer in the registry: nothing more is queued
	idle    time.Time // when the last member left; zero while it has members

	batchers  int       // members that joined with batch=1
	lastFlush time.Time // when the last pass started

	// Presence coalescing above PresenceThreshold.
	joined, left int
	timer        *time.Timer
}

func newRoom(h *Hub, name string) *room {
	return &room{h: h, name: name, names: make(map[string]*member),
		hist: history{epoch: randomHex(8)}, idle: h.cfg.Now()}
}

// snapshot copies the member list.
func (r *room) snapshot() []*member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.members)
}

// joinLocked adds mb with a name unique in the room and queues its welcome,
// under the room's lock, so welcome is its first frame and holds exactly
// the history that no later pass delivers. It returns mb's presence frame
// for the room, nil when presence is coalesced.
func (r *room) joinLocked(mb *member) *Message {
	h := r.h
	mb.name = r.uniqueName(mb.name, nil)
	r.names[mb.name] = mb
	mb.pos = len(r.members)
	r.members = append(r.members, mb)
	r.idle = time.Time{}
	if mb.batch {
		r.batchers++
	}
	feed, recovered := r.hist.after(mb.since, mb.epoch)
	w := welcomeFrame{
		Kind:    kindWelcome,
		You:     memberRef{ID: mb.id, Name: mb.name},
		Room:    r.name,
		Count:   len(r.members),
		Members: r.refsLocked(welcomeMembers),
		Feed:    feed,
		Chat:    slices.Clone(r.hist.chat),
		Epoch:   r.hist.epoch,
		Limits:  h.limits(),
		Version: h.cfg.Version,
	}
	if w.Chat == nil {
		w.Chat = []json.RawMessage{}
	}
	if mb.hasSince {
		w.Recovered = &recovered
	}
	mb.sendJSON(w)
	if r.coalescingLocked(len(r.members)) {
		r.joined++
		r.armTimerLocked()
		return nil
	}
	return r.h.frame(presenceFrame{Kind: kindPresence, Event: eventJoin, Who: memberRef{ID: mb.id, Name: mb.name}, Count: len(r.members)})
}

// welcomeMembers bounds the member list of a welcome; who tells the rest.
const welcomeMembers = 100

// leave removes mb and tells the room. A room left empty stays in the
// registry with its history until the sweeper retires it.
func (r *room) leave(mb *member) {
	r.mu.Lock()
	i := mb.pos
	if i < 0 || i >= len(r.members) || r.members[i] != mb {
		r.mu.Unlock()
		return
	}
	if r.shared {
		r.members = slices.Clone(r.members)
		r.shared = false
	}
	last := len(r.members) - 1
	r.members[i] = r.members[last]
	r.members[i].pos = i
	r.members[last] = nil
	r.members = r.members[:last]
	mb.pos = -1
	delete(r.names, mb.name)
	if mb.batch {
		r.batchers--
	}
	count := len(r.members)
	if count == 0 {
		r.idle = r.h.cfg.Now()
	}
	who := memberRef{ID: mb.id, Name: mb.name}
	crowded := r.coalescingLocked(count + 1)
	if crowded {
		r.left++
		r.armTimerLocked()
	}
	r.mu.Unlock()
	if !crowded && count > 0 {
		r.h.publish(r.name, r.h.frame(presenceFrame{Kind: kindPresence, Event: eventLeave, Who: who, Count: count}))
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
	r.h.publish(r.name, r.h.frame(f))
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

// size is how many members the room has on this node.
func (r *room) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// who lists up to limit members (all when limit <= 0), for a who request;
// count is always the whole room.
func (r *room) who(limit int) membersFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	if limit <= 0 {
		limit = -1
	}
	return membersFrame{Kind: kindMembers, Count: len(r.members), Members: r.refsLocked(limit)}
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
	if r.timer != nil || r.removed {
		return
	}
	r.timer = time.AfterFunc(r.h.cfg.PresenceInterval, r.flushPresence)
}

// flushPresence sends the count frame that join and leave held back.
func (r *room) flushPresence() {
	if !r.h.enter() {
		return
	}
	defer r.h.exit()
	r.mu.Lock()
	r.timer = nil
	if r.removed || (r.joined == 0 && r.left == 0) {
		r.mu.Unlock()
		return
	}
	f := countFrame{Kind: kindCount, Count: len(r.members), Joined: r.joined, Left: r.left}
	r.joined, r.left = 0, 0
	// Stay in count frames for one more interval: a timer that fires with
	// nothing to say ends them.
	r.armTimerLocked()
	r.mu.Unlock()
	r.h.publish(r.name, r.h.frame(f))
}

// retireLocked marks a room leaving the registry; the caller holds h.mu and
// r.mu and has checked it is empty and idle.
func (r *room) retireLocked() {
	r.removed = true
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// retirableLocked tells whether r has nothing left to do on this node: no
// member, nothing queued, no pass under way. Called with r.mu held.
func (r *room) retirableLocked() bool {
	return len(r.members) == 0 && len(r.inbox) == 0 && !r.running
}
