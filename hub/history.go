package hub

import (
	"encoding/json"
	"slices"
)

// history is what a room remembers for those who join later or come back:
// its last feed events, for since, and its recent chat and snippets, for
// welcome.chat. It is guarded by room.mu and written only by the room's
// delivery pass, in the order of delivery.
//
// epoch names this history: a new one is made whenever the old one is lost
// (here, when the room is created: a restart, or a room retired after
// being idle), so a client that comes back with since from another epoch
// is told recovered: false, never silently given a gap.
type history struct {
	epoch   string
	feed    []Event // the last Config.FeedSize events, oldest first (see events)
	max     int     // FeedSize
	lastSeq uint64  // the newest event's seq; 0 before the first
	chat    []json.RawMessage
	chatLen int // bytes in chat
}

// addEvent appends e, whose Seq and Prev are set, keeping the last max
// events. The slice grows to twice max before the old half is dropped in
// one copy: an event costs O(1), not a shift of the whole feed (every HTTP
// fetch is an event).
func (hs *history) addEvent(e Event, max int) {
	hs.max = max
	if len(hs.feed) >= 2*max {
		n := copy(hs.feed, hs.feed[len(hs.feed)-max+1:])
		clear(hs.feed[n:])
		hs.feed = hs.feed[:n]
	}
	hs.feed = append(hs.feed, e)
	hs.lastSeq = e.Seq
}

// events is the feed kept: the last max events.
func (hs *history) events() []Event {
	if hs.max > 0 && len(hs.feed) > hs.max {
		return hs.feed[len(hs.feed)-hs.max:]
	}
	return hs.feed
}

// addChat appends one encoded chat or snippet frame, dropping the oldest
// past max frames or maxBytes bytes (the newest is always kept).
func (hs *history) addChat(frame []byte, max, maxBytes int) {
	hs.chat = append(hs.chat, frame)
	hs.chatLen += len(frame)
	drop := 0
	for len(hs.chat)-drop > 1 && (len(hs.chat)-drop > max || hs.chatLen > maxBytes) {
		hs.chatLen -= len(hs.chat[drop])
		drop++
	}
	if drop > 0 {
		n := copy(hs.chat, hs.chat[drop:])
		clear(hs.chat[n:])
		hs.chat = hs.chat[:n]
	}
}

// after returns the held events with seq > since, oldest first (never nil),
// and whether they are every event of this history after since: epoch must
// be this history's, since one of its seqs (or 0), and the first event held
// after since must follow since directly (its Prev at or before since), so
// that none between them was dropped.
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
	switch {
	case epoch != hs.epoch, since > hs.lastSeq:
		return feed, false
	case since == hs.lastSeq:
		return feed, true
	case len(feed) == 0: // events after since were all dropped
		return feed, false
	}
	return feed, feed[0].Prev <= since
}
