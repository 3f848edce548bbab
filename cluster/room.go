package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"filehub/hub"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// roomSub is a room this node serves: its live subscription, its history
// consumer and its members watch, each delivering to the hub.
type roomSub struct {
	room   string
	cancel context.CancelFunc
	live   *nats.Subscription
	hist   jetstream.ConsumeContext
	watch  jetstream.KeyWatcher
	wg     sync.WaitGroup

	mu     sync.Mutex
	byKey  map[string]memberEntry // the room's members, as the watch last said
	nameOf map[string]string      // member id → its key (renames come as a new key, then the old one deleted)

	read map[string]uint64 // subject → the seq last read, by the consumer's callback only
}

func (rs *roomSub) stop() {
	rs.cancel()
	if rs.live != nil {
		_ = rs.live.Unsubscribe()
	}
	if rs.hist != nil {
		rs.hist.Stop()
	}
	if rs.watch != nil {
		_ = rs.watch.Stop()
	}
}

// OpenRoom implements hub.Broker: it subscribes this node to the room, and
// returns once the room's kept history and its members have been handed
// to the hub.
func (b *Broker) OpenRoom(ctx context.Context, room string) (string, error) {
	if err := b.Err(); err != nil {
		return "", err
	}
	return b.openRoom(ctx, room)
}

// streamEpoch is the epoch of the history stream as it is now: its birth.
// A stream lost and made again (an operator's mistake, a lost disk)
// starts the seqs over, in a new epoch.
func (b *Broker) streamEpoch(ctx context.Context) (string, error) {
	info, err := b.js.Stream(ctx, streamName)
	if err != nil {
		return "", fmt.Errorf("cluster: stream %s: %w", streamName, err)
	}
	return "js" + strconv.FormatInt(info.CachedInfo().Created.UnixNano(), 36), nil
}

// openRoom is OpenRoom without the check that NATS is set up: reposition
// opens rooms again before this node says it is.
func (b *Broker) openRoom(ctx context.Context, room string) (string, error) {
	epoch, err := b.streamEpoch(ctx)
	if err != nil {
		return "", err
	}
	wctx, cancel := context.WithCancel(context.Background())
	rs := &roomSub{room: room, cancel: cancel, byKey: make(map[string]memberEntry), nameOf: make(map[string]string), read: make(map[string]uint64)}
	fail := func(err error) (string, error) {
		rs.stop()
		return "", err
	}
	if rs.live, err = b.nc.Subscribe(liveSubject(room), func(msg *nats.Msg) { b.liveMessage(rs, msg) }); err != nil {
		return fail(fmt.Errorf("cluster: subscribing to %s: %w", room, err))
	}
	roster, err := b.watchRoster(wctx, rs)
	if err != nil {
		return fail(err)
	}
	replayed, err := b.replayHistory(ctx, rs)
	if err != nil {
		return fail(err)
	}
	for _, ch := range []<-chan struct{}{roster, replayed} {
		select {
		case <-ch:
		case <-ctx.Done():
			return fail(fmt.Errorf("cluster: opening %s: %w", room, ctx.Err()))
		}
	}
	b.mu.Lock()
	if old := b.rooms[room]; old != nil {
		old.stop() // closed and opened again before the old one let go
	}
	b.rooms[room] = rs
	b.mu.Unlock()
	return epoch, nil
}

// reposition follows a history stream that came back empty (NATS lost
// its store): every room open here is read again from the new stream's
// start, in the new epoch, after the hub was told (Node.Reset: its pages
// reconnect and are told recovered: false). Without it, each room's
// ordered consumer would resume at its old place in the old stream, and
// skip everything until the new stream's seqs passed it. Rooms that
// cannot be opened again are closed: their next join opens them.
func (b *Broker) reposition(epoch string) {
	b.mu.Lock()
	rooms := make([]*roomSub, 0, len(b.rooms))
	for _, rs := range b.rooms {
		rooms = append(rooms, rs)
	}
	b.rooms = make(map[string]*roomSub)
	clear(b.lastSeq) // the old stream's: publishHistory finds the new ones
	b.mu.Unlock()
	b.log.Warn("history stream lost; rooms start a new epoch", "epoch", epoch, "rooms", len(rooms))
	for _, rs := range rooms {
		rs.stop()
		b.hub.Reset(rs.room, epoch)
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		if _, err := b.openRoom(ctx, rs.room); err != nil {
			b.log.Warn("open room again", "room", rs.room, "err", err)
		}
		cancel()
	}
}

// liveMessage hands the hub a message another node published live to
// rs's room.
func (b *Broker) liveMessage(rs *roomSub, msg *nats.Msg) {
	var m hub.Message
	if err := json.Unmarshal(msg.Data, &m); err != nil {
		b.log.Warn("decode live message", "room", rs.room, "err", err)
		return
	}
	b.hub.Deliver(rs.room, &m)
}

// watchRoster follows the members of rs's room on every node until ctx
// ends; the channel is closed once the watch's first values (who is in
// the room now) have been handed to the hub.
func (b *Broker) watchRoster(ctx context.Context, rs *roomSub) (<-chan struct{}, error) {
	var err error
	if rs.watch, err = b.members.Watch(ctx, roomKey(rs.room)+".*"); err != nil {
		return nil, fmt.Errorf("cluster: watching %s: %w", rs.room, err)
	}
	roster := make(chan struct{})
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		b.followMembers(rs, roster)
	}()
	return roster, nil
}

// replayHistory consumes every kept event and chat line of rs's room, then
// the new ones, in the stream's order; the channel is closed once the
// kept ones have been handed to the hub.
func (b *Broker) replayHistory(ctx context.Context, rs *roomSub) (<-chan struct{}, error) {
	cons, err := b.js.OrderedConsumer(ctx, streamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{feedSubject(rs.room), chatSubject(rs.room)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: reading %s: %w", rs.room, err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: reading %s: %w", rs.room, err)
	}
	replayed := make(chan struct{})
	var once sync.Once
	caughtUp := ci.NumPending == 0 // only the consumer's callback uses it after this
	if caughtUp {
		once.Do(func() { close(replayed) })
	}
	if rs.hist, err = cons.Consume(func(msg jetstream.Msg) {
		meta, err := msg.Metadata()
		if err != nil {
			return
		}
		if caughtUp { // a replayed message's age is not a delay
			b.metrics.delay.Observe(time.Since(meta.Timestamp).Seconds())
		}
		b.historyMessage(rs, msg, meta)
		if meta.NumPending == 0 {
			caughtUp = true
			once.Do(func() { close(replayed) })
		}
	}); err != nil {
		return nil, fmt.Errorf("cluster: reading %s: %w", rs.room, err)
	}
	return replayed, nil
}

// CloseRoom implements hub.Broker.
func (b *Broker) CloseRoom(room string) {
	b.mu.Lock()
	rs := b.rooms[room]
	delete(b.rooms, room)
	b.mu.Unlock()
	if rs != nil {
		rs.stop()
	}
}

// historyMessage hands one message of the room's history to the hub, in
// the stream's order (the same on every node), with the seq the stream
// gave it and the seq of the room's message of the same kind before it: a
// feed event, or a chat or snippet frame.
func (b *Broker) historyMessage(rs *roomSub, msg jetstream.Msg, meta *jetstream.MsgMetadata) {
	room := rs.room
	seq := meta.Sequence.Stream
	prev, _ := strconv.ParseUint(msg.Headers().Get(hdrPrev), 10, 64)
	b.mu.Lock()
	if seq > b.lastSeq[msg.Subject()] {
		b.lastSeq[msg.Subject()] = seq
	}
	b.mu.Unlock()
	if last := rs.read[msg.Subject()]; last != 0 && prev != last {
		// The stream dropped messages this node had not read yet (it fell
		// more than HistorySize behind): the room's history says so to
		// whoever comes back with since; members here miss them.
		b.log.Warn("history gap", "room", room, "subject", msg.Subject(), "prev", prev, "last_read", last)
	}
	rs.read[msg.Subject()] = seq
	switch {
	case strings.HasSuffix(msg.Subject(), ".feed"):
		var e hub.Event
		if err := json.Unmarshal(msg.Data(), &e); err != nil {
			b.log.Warn("decode feed event", "room", room, "err", err)
			return
		}
		e.Seq, e.Prev = seq, prev
		b.hub.Deliver(room, &hub.Message{Event: &e})
	case strings.HasSuffix(msg.Subject(), ".chat"):
		frame := append(json.RawMessage(nil), msg.Data()...)
		b.hub.Deliver(room, &hub.Message{Frame: frame, Chat: true, Seq: seq, Prev: prev})
	}
}

// followMembers turns the room's members watch into presence messages for
// the hub: a new key is a join (or, for a member already known under
// another name, a rename), a deleted one a leave. Members of dead
// instances are deleted rather than reported. roster is closed once the
// watch's first values are in.
func (b *Broker) followMembers(rs *roomSub, roster chan struct{}) {
	initial := true
	for e := range rs.watch.Updates() {
		if e == nil {
			if initial {
				initial = false
				close(roster)
			}
			continue
		}
		key := e.Key()
		rs.mu.Lock()
		old, had := rs.byKey[key]
		rs.mu.Unlock()
		if e.Operation() != jetstream.KeyValuePut {
			if !had {
				continue
			}
			rs.mu.Lock()
			delete(rs.byKey, key)
			current := rs.nameOf[old.ID] == key
			if current {
				delete(rs.nameOf, old.ID)
			}
			rs.mu.Unlock()
			if current { // else it was renamed: the new key told already
				b.presence(rs.room, "leave", old)
				if old.Node == b.instance && b.isLocalMember(rs.room, old) {
					// Deleted by another node that took this one for gone,
					// while its session is still open here.
					b.askReassert()
				}
			}
			continue
		}
		var m memberEntry
		if err := json.Unmarshal(e.Value(), &m); err != nil || m.ID == "" {
			continue
		}
		m.key, m.rev = key, e.Revision()
		if !b.aliveInst(m.Node) && b.nodesKnown() {
			// Left behind by a node that died while nobody served the room.
			b.enqueue(job{kind: jobDeleteMember, key: key, rev: m.rev})
			continue
		}
		rs.mu.Lock()
		// A key that changes hands (a page that came back took its name
		// over from its former session): the former one leaves.
		handed := had && old.ID != m.ID
		oldCurrent := handed && rs.nameOf[old.ID] == key
		if oldCurrent {
			delete(rs.nameOf, old.ID)
		}
		prevKey, renamed := rs.nameOf[m.ID]
		renamed = renamed && prevKey != key
		rs.byKey[key] = m
		rs.nameOf[m.ID] = key
		rs.mu.Unlock()
		if oldCurrent {
			b.presence(rs.room, "leave", old)
		}
		switch {
		case renamed:
			b.presence(rs.room, "rename", m)
		case !had || handed:
			b.presence(rs.room, "join", m)
		}
	}
}

// isLocalMember tells whether m is still this node's member of room, by that name.
func (b *Broker) isLocalMember(room string, m memberEntry) bool {
	for _, ref := range b.hub.Members(room) {
		if ref.ID == m.ID && ref.Name == m.Name {
			return true
		}
	}
	return false
}

// nodesKnown tells whether the nodes watch has delivered its first values,
// before which no instance can be called dead.
func (b *Broker) nodesKnown() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seenNode
}

func (b *Broker) presence(room, event string, m memberEntry) {
	b.hub.Deliver(room, &hub.Message{Presence: &hub.Presence{Event: event, Who: hub.MemberRef{ID: m.ID, Name: m.Name}, Node: m.Node}})
}

// Publish implements hub.Broker. Feed events and chat go to the stream,
// and reach every node, this one included, from there, with their seq, in
// the stream's order: one order for the room on every node. While NATS is
// away they wait in the writer's queue, and reach everyone once it is
// back. Everything else reaches this node's members at once and the
// others over core NATS, when connected: what is only live is not worth
// replaying late.
func (b *Broker) Publish(room string, m *hub.Message) {
	switch {
	case m.Event != nil:
		e := *m.Event
		b.enqueue(job{kind: jobFeed, room: room, event: &e, id: b.nextMsgID(), at: time.Now()})
	case m.Chat:
		frame := append(json.RawMessage(nil), m.Frame...)
		b.enqueue(job{kind: jobChat, room: room, frame: frame, id: b.nextMsgID(), at: time.Now()})
	default:
		wire := *m
		if wire.Share != nil {
			wire.Frame = nil // file bytes never travel: each node reads the file
		}
		data, err := json.Marshal(&wire) // before the hub's pass reads m
		if !m.Elsewhere {
			b.hub.Deliver(room, m)
		}
		if err != nil {
			b.log.Error("encode message", "err", err)
			return
		}
		if b.nc.IsConnected() {
			if err := b.nc.Publish(liveSubject(room), data); err != nil {
				b.log.Debug("publish", "room", room, "err", err)
			}
		}
	}
}

// errNoName is a name no room can give: every suffix taken.
var errNoName = errors.New("cluster: no free name")
