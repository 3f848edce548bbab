package hub

// The seam for scale-out, as centrifuge's broker.go: the Broker that
// carries a room's messages between nodes, the Node it delivers to, and
// the Message that crosses between them. The in-process delivery state
// (which member a reply is for, a pass's barrier) is private (local).

import (
	"context"
	"encoding/json"
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
	// for welcome.chat and since. Its Seq (and Prev, the seq of the
	// room's chat line before it) are set where the history is kept, as a
	// feed event's; the frame is without them, and gets its seq when it
	// is recorded.
	Chat bool   `json:"chat,omitempty"`
	Seq  uint64 `json:"seq,omitempty"`
	Prev uint64 `json:"prev,omitempty"`
	// Presence is a join, leave or rename, anywhere in the room.
	Presence *Presence `json:"presence,omitempty"`
	// Share is a shared file: file bytes never travel between nodes, so
	// a node that receives a Share without Frame reads the file (from the
	// folder the nodes share) and inlines it. A broker sends Share alone.
	Share *Share `json:"share,omitempty"`
	// Elsewhere is not on the wire: it marks a message for the other
	// nodes only: this node delivers its own form itself (a growing share:
	// its members follow the upload on streams; the others get the plain
	// share).
	Elsewhere bool `json:"-"`
	// local is the in-process delivery state, never published.
	local
}

// local is a message's delivery on this node only: never on the wire,
// never seen by a broker.
type local struct {
	// to, when set, is the only member the frame is for: a reply that must
	// come after the room's frames queued before it (a pong). Such a
	// message is delivered on this node only, never published.
	to *member
	// reached, when set, is closed by the pass that reaches the message:
	// everything queued before it has been applied.
	reached chan struct{}
	// reset, when set, is the epoch of a history that starts again at
	// this message (Node.Reset).
	reset string
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
// node, with the seq the history gave them (one sequence for both kinds,
// the room's offset), and only once the history has them: never first
// here and then elsewhere. Presence comes the same way:
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
	// Join registers a member in room under its name, or under the first
	// of name-2, name-3… that nobody in the room has on any node, and
	// returns the name it got; a page coming back (Joining.Was) takes its
	// old registration over. Rename does the same for a new name; Leave
	// unregisters the member.
	Join(ctx context.Context, room string, j Joining) (string, error)
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

// Joining is a member about to join, as a Broker registers it.
type Joining struct {
	ID, Name string
	// Browser is the hash of the page's cookie (never the cookie), and Was
	// the member id the page had in this room before, when it says so
	// (the join's was): a member registered under Name with id Was and the
	// same Browser is this page's former session, whose node may have
	// died without a word, and the page takes its name back instead of
	// getting name-2. Another tab of the same browser has another id.
	Browser, Was string
}

// Node is the hub as its broker sees it.
type Node interface {
	// Deliver gives this node's members in room the message m.
	Deliver(room string, m *Message)
	// Members lists this node's members of room, for a broker that must
	// register them again (its engine lost them while unreachable).
	Members(room string) []MemberRef
	// Renamed tells the node that its member id of room now has name: the
	// broker had to give it another (its name was taken by someone else
	// while this node was taken for gone). The member's page is told with
	// a presence rename.
	Renamed(room, id, name string)
	// Reset tells the node that room's history was lost (the broker's
	// store came back empty): what the room delivers from now on starts
	// the history again, in epoch, and its members on this node are
	// closed with 1013, so that they come back, are told recovered:
	// false, and say that something was missed. Messages delivered after
	// Reset returns belong to the new history.
	Reset(room, epoch string)
}
