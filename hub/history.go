package hub

import (
	"encoding/json"
	"slices"
)

// history is what a room remembers for those who join later or come back:
// its last feed events and its recent chat and snippets, each with its seq
// (one sequence for both, the room's offset), for since and for welcome.
// It is guarded by room.mu and written only by the room's delivery pass,
// in the order of delivery.
//
// epoch names this history: a new one is made whenever the old one is lost
// (a restart without a history store, a room retired after being idle, a
// store that came back empty), so a client that comes back with since from
// another epoch is told recovered: false, never silently given a gap.
//
// dropped is the newest seq of the room that this history knows it does
// not hold: trimmed here, or (the first entries a broker replays name the
// one before them, Prev) trimmed before this node read the room. A client
// that saw everything up to since, with since at or after dropped, misses
// nothing the history holds.
type history struct {
	epoch   string
	feed    []Event // the last Config.FeedSize events, oldest first (see events)
	max     int     // FeedSize
	chat    []chatEntry
	chatLen int    // bytes in chat
	lastSeq uint64 // the newest seq of either kind; 0 before the first
	// lastFeed and lastChat are the newest seq of each kind: the Prev of
	// the next one, when nothing is missing between them.
	lastFeed, lastChat uint64
	dropped            uint64
}

// chatEntry is one kept chat or snippet frame, its seq spliced in.
type chatEntry struct {
	seq, prev uint64
	frame     json.RawMessage
}

// gap records that the entry of a kind after last, whose predecessor is
// prev, does not follow what this history holds of that kind.
func (hs *history) gap(prev, last uint64) {
	if prev > last {
		hs.dropped = max(hs.dropped, prev)
	}
}

// addEvent appends e, whose Seq and Prev are set, keeping the last max
// events. The slice grows to twice max before the old half is dropped in
// one copy: an event costs O(1), not a shift of the whole feed (every HTTP
// fetch is an event).
func (hs *history) addEvent(e Event, max int) {
	hs.max = max
	hs.gap(e.Prev, hs.lastFeed)
	if len(hs.feed) >= 2*max {
		n := copy(hs.feed, hs.feed[len(hs.feed)-max+1:])
		clear(hs.feed[n:])
		hs.feed = hs.feed[:n]
	}
	hs.feed = append(hs.feed, e)
	if len(hs.feed) > max { // the one that just left the window
		hs.dropped = maxU(hs.dropped, hs.feed[len(hs.feed)-max-1].Seq)
	}
	hs.lastFeed = e.Seq
	hs.lastSeq = maxU(hs.lastSeq, e.Seq)
}

func maxU(a, b uint64) uint64 { return max(a, b) }

// events is the feed kept: the last max events.
func (hs *history) events() []Event {
	if hs.max > 0 && len(hs.feed) > hs.max {
		return hs.feed[len(hs.feed)-hs.max:]
	}
	return hs.feed
}

// addChat appends one chat or snippet frame (its seq in it already),
// dropping the oldest past max frames or maxBytes bytes (the newest is
// always kept).
func (hs *history) addChat(c chatEntry, max, maxBytes int) {
	hs.gap(c.prev, hs.lastChat)
	hs.chat = append(hs.chat, c)
	hs.chatLen += len(c.frame)
	drop := 0
	for len(hs.chat)-drop > 1 && (len(hs.chat)-drop > max || hs.chatLen > maxBytes) {
		hs.chatLen -= len(hs.chat[drop].frame)
		hs.dropped = maxU(hs.dropped, hs.chat[drop].seq)
		drop++
	}
	if drop > 0 {
		n := copy(hs.chat, hs.chat[drop:])
		clear(hs.chat[n:])
		hs.chat = hs.chat[:n]
	}
	hs.lastChat = c.seq
	hs.lastSeq = maxU(hs.lastSeq, c.seq)
}

// chatFrames is the kept chat, for a welcome (never nil).
func (hs *history) chatFrames() []json.RawMessage {
	out := make([]json.RawMessage, len(hs.chat))
	for i, c := range hs.chat {
		out[i] = c.frame
	}
	return out
}

// firstKept is the oldest seq held of each kind (0: none), the store's
// bounds.
func (hs *history) firstKept() (feed, chat uint64) {
	if ev := hs.events(); len(ev) > 0 {
		feed = ev[0].Seq
	}
	if len(hs.chat) > 0 {
		chat = hs.chat[0].seq
	}
	return feed, chat
}

// after returns the held events with seq > since, oldest first (never nil),
// and whether the history holds everything of the room after since, of
// either kind: epoch must be this history's, since at most its newest seq,
// and nothing after since may have been dropped.
func (hs *history) after(since uint64, epoch string) ([]Event, bool) {
	kept := hs.events()
	i, _ := slices.BinarySearchFunc(kept, since+1, func(e Event, s uint64) int {
		switch {
		case e.Seq < s:
			return -1
		case e.Seq > s:
			return 1
		}
		return 0
	})
	feed := slices.Clone(kept[i:])
	if feed == nil {
		feed = []Event{}
	}
	return feed, epoch == hs.epoch && since <= hs.lastSeq && since >= hs.dropped
}
