package hub

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"filehub/internal/randid"

	"golang.org/x/time/rate"
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
	members []*member // this node's members; each one's index is its pos
	// remote is the members on other nodes (id → their ref and node), as
	// the broker reports them; nil on a single node.
	remote  map[string]remoteMember
	names   map[string]string // every member's NameKey → its id, on every node
	hist    history
	inbox   []*Message // published, waiting for run
	spare   []*Message
	running bool          // run is under way
	waiting bool          // run lingers for more work (see linger)
	wake    chan struct{} // tells a lingering run there is work
	shared  bool          // a pass may be reading members' array
	removed bool          // no longer in the registry: nothing more is queued
	idle    time.Time     // when the last member left; zero while it has members
	// opened is closed once the broker has replayed the room's history and
	// roster to this node (at once on a single node); openErr says why
	// that failed.
	opened  chan struct{}
	opening bool // a join is opening it
	openErr error
	pending int // joins under way

	growing map[*growing]struct{} // uploads shared as they arrive, which joiners follow too
	content *rate.Limiter         // bytes delivered to the room (Config.RoomContentRate)

	batchers  int       // members that joined with batch=1
	lastFlush time.Time // when the last pass started

	// Presence coalescing above PresenceThreshold.
	joined, left int
	timer        *time.Timer
}

// remoteMember is a member of the room on another node.
type remoteMember struct {
	name, node string
}

func newRoom(h *Hub, name string) *room {
	r := &room{h: h, name: name, names: make(map[string]string), wake: make(chan struct{}, 1),
		hist: history{epoch: randid.Hex(8)}, idle: h.cfg.Now(), opened: make(chan struct{}),
		content: rate.NewLimiter(rate.Limit(h.cfg.RoomContentRate), int(h.cfg.RoomContentBurst))}
	if h.cfg.Broker == nil {
		r.opening = true
		close(r.opened)
	}
	if st := h.cfg.History; st != nil {
		// Under h.mu: a read of one room's few hundred entries, before
		// anything can be recorded in it.
		k, err := st.LoadRoom(name)
		if err != nil {
			h.log.Error("load room history", "room", name, "err", err)
			h.cfg.Metrics.HistoryErrors.Inc()
		}
		if last := r.hist.load(k, &h.cfg); last > 0 {
			for cur := h.seq.Load(); cur < last && !h.seq.CompareAndSwap(cur, last); cur = h.seq.Load() {
			}
		}
	}
	return r
}

// snapshot copies the member list.
func (r *room) snapshot() []*member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.members)
}

// countLocked is the room's size, on every node.
func (r *room) countLocked() int { return len(r.members) + len(r.remote) }

// joinLocked adds mb, named, and queues its welcome, under the room's
// lock, so welcome is its first frame and holds exactly the history that
// no later pass delivers. On a single node it first makes mb's name unique
// in the room, and returns the presence message that tells the room; with
// a broker the name was claimed across nodes already, and the broker
// tells the rooms (it returns nil).
func (r *room) joinLocked(mb *member) *Message {
	h := r.h
	if h.cfg.Broker == nil {
		mb.name = r.uniqueName(mb.name, "")
	}
	r.names[NameKey(mb.name)] = mb.id
	mb.pos = len(r.members)
	r.members = append(r.members, mb)
	r.idle = time.Time{}
	if mb.batch {
		r.batchers++
	}
	feed, recovered := r.hist.after(mb.since, mb.epoch)
	w := welcomeFrame{
		Kind:    kindWelcome,
		You:     MemberRef{ID: mb.id, Name: mb.name},
		Room:    r.name,
		Count:   r.countLocked(),
		Members: r.refsLocked(welcomeMembers),
		Feed:    feed,
		Chat:    r.hist.chatFrames(),
		Epoch:   r.hist.epoch,
		Limits:  h.limits(),
		Version: h.cfg.Version,
	}
	if mb.hasSince {
		w.Recovered = &recovered
	}
	mb.sendJSON(w)
	for g := range r.growing {
		g.follow(mb) // from byte 0, like those who were there
	}
	if h.cfg.Broker != nil {
		return nil
	}
	return &Message{Presence: &Presence{Event: eventJoin, Who: MemberRef{ID: mb.id, Name: mb.name}}}
}

// welcomeMembers bounds the member list of a welcome; who tells the rest.
const welcomeMembers = 100

// leave removes mb and, on a single node, returns the presence message
// that tells the room (with a broker, the broker tells the rooms). A room
// left empty stays in the registry with its history until the sweeper
// retires it.
func (r *room) leave(mb *member) *Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := mb.pos
	if i < 0 || i >= len(r.members) || r.members[i] != mb {
		return nil
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
	if r.names[NameKey(mb.name)] == mb.id {
		delete(r.names, NameKey(mb.name))
	}
	if mb.batch {
		r.batchers--
	}
	if len(r.members) == 0 {
		r.idle = r.h.cfg.Now()
	}
	if r.h.cfg.Broker != nil {
		return nil
	}
	return &Message{Presence: &Presence{Event: eventLeave, Who: MemberRef{ID: mb.id, Name: mb.name}}}
}

// rename gives mb a new name, unique in the room, and returns the presence
// message that tells the room; nil when nothing changed. With a broker,
// name was claimed across nodes already.
func (r *room) rename(mb *member, name string) *Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == mb.name {
		return nil
	}
	if r.names[NameKey(mb.name)] == mb.id {
		delete(r.names, NameKey(mb.name))
	}
	if r.h.cfg.Broker == nil {
		name = r.uniqueName(name, mb.id)
	}
	mb.name = name
	r.names[NameKey(mb.name)] = mb.id
	if r.h.cfg.Broker != nil {
		return nil
	}
	return &Message{Presence: &Presence{Event: eventRename, Who: MemberRef{ID: mb.id, Name: mb.name}}}
}

// uniqueName returns name, or name-2, name-3… if another member than self
// (an id) has it.
func (r *room) uniqueName(name, self string) string {
	taken := func(n string) bool {
		id, ok := r.names[NameKey(n)]
		return ok && id != self
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

// presenceLocked applies a presence message in the pass that delivers it:
// the roster learns of members on other nodes (those of this node it knows
// already), and the room's members here get a presence frame, or, in a
// crowded room, a count frame later. It returns the frame, nil when
// coalesced.
func (r *room) presenceLocked(p *Presence) []byte {
	h := r.h
	if p.Node != "" && p.Node != h.node() {
		if r.remote == nil {
			r.remote = make(map[string]remoteMember)
		}
		old, had := r.remote[p.Who.ID]
		if had && r.names[NameKey(old.name)] == p.Who.ID {
			delete(r.names, NameKey(old.name))
		}
		switch p.Event {
		case eventJoin, eventRename:
			r.remote[p.Who.ID] = remoteMember{name: p.Who.Name, node: p.Node}
			r.names[NameKey(p.Who.Name)] = p.Who.ID
		case eventLeave:
			delete(r.remote, p.Who.ID)
		}
	}
	count := r.countLocked()
	size := count
	if p.Event == eventLeave {
		size++ // the room's size with the one leaving
	}
	if p.Event != eventRename && r.coalescingLocked(size) {
		if p.Event == eventJoin {
			r.joined++
		} else {
			r.left++
		}
		r.armTimerLocked()
		return nil
	}
	b, err := marshal(presenceFrame{Kind: kindPresence, Event: p.Event, Who: p.Who, Count: count})
	if err != nil {
		h.log.Error("encoding presence", "err", err)
		return nil
	}
	return b
}

// refsLocked lists up to max members (all when max < 0): this node's
// first, in join order, then the others'.
func (r *room) refsLocked(max int) []MemberRef {
	n := r.countLocked()
	if max >= 0 && n > max {
		n = max
	}
	refs := make([]MemberRef, 0, n)
	for _, m := range r.members {
		if len(refs) == n {
			return refs
		}
		refs = append(refs, MemberRef{ID: m.id, Name: m.name})
	}
	for id, m := range r.remote {
		if len(refs) == n {
			break
		}
		refs = append(refs, MemberRef{ID: id, Name: m.name})
	}
	return refs
}

// size is how many members the room has, on every node.
func (r *room) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.countLocked()
}

// who lists up to limit members (all when limit <= 0), for a who request;
// count is always the whole room.
func (r *room) who(limit int) membersFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	if limit <= 0 {
		limit = -1
	}
	return membersFrame{Kind: kindMembers, Count: r.countLocked(), Members: r.refsLocked(limit)}
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
	f := countFrame{Kind: kindCount, Count: r.countLocked(), Joined: r.joined, Left: r.left}
	r.joined, r.left = 0, 0
	// Stay in count frames for one more interval: a timer that fires with
	// nothing to say ends them.
	r.armTimerLocked()
	r.mu.Unlock()
	// Each node counts for its own members: never through the broker.
	r.h.deliver(r.name, r.h.frame(f))
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
	return len(r.members) == 0 && len(r.inbox) == 0 && !r.running && r.pending == 0
}
