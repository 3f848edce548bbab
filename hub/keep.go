package hub

// The seam for a single node's history on disk: what a room keeps, as a
// store sees it. The store (package history) knows nothing of frames or
// events; the hub hands it bytes with their seqs.

import (
	"encoding/json"
)

// HistoryStore keeps the rooms' histories of a node that runs alone, so
// that a restart (or a crash) forgets nothing a member was shown: the
// room's epoch, its feed events and its chat and snippets, with their
// seqs. The room's delivery pass saves what it adds before it delivers it,
// so whatever a member saw is kept. A Broker keeps the history itself:
// with one, the hub uses no HistoryStore.
type HistoryStore interface {
	// LoadRoom returns what is kept of room, entries oldest first; a zero
	// KeptRoom when nothing is.
	LoadRoom(room string) (KeptRoom, error)
	// SaveRoom applies one delivery pass's change to room.
	SaveRoom(room string, c KeptChange) error
}

// KeptEntry is one entry of a room's history: a feed event (Data its JSON)
// or a chat or snippet frame (Data the frame, its seq in it).
type KeptEntry struct {
	Seq  uint64
	Prev uint64 // the seq of the room's entry of the same kind before it
	Chat bool
	Data []byte
}

// KeptRoom is a room's history as a store keeps it.
type KeptRoom struct {
	Epoch   string
	Dropped uint64 // the newest seq of the room no longer kept
	Entries []KeptEntry
}

// KeptChange is what one delivery pass changed in a room's history: the
// entries it added, and the oldest of each kind still kept (those before
// it go; 0 keeps them all).
type KeptChange struct {
	Epoch              string
	Dropped            uint64
	Add                []KeptEntry
	FeedFrom, ChatFrom uint64
}

// keptEntries lists the history entries among a pass's messages, once
// recorded (their seqs given), oldest first.
func (hs *history) keptEntries(msgs []*Message) []KeptEntry {
	var out []KeptEntry
	for _, m := range msgs {
		switch {
		case m.Event != nil:
			data, err := json.Marshal(m.Event)
			if err != nil {
				continue
			}
			out = append(out, KeptEntry{Seq: m.Event.Seq, Prev: m.Event.Prev, Data: data})
		case m.Chat:
			out = append(out, KeptEntry{Seq: m.Seq, Prev: m.Prev, Chat: true, Data: m.Frame})
		}
	}
	return out
}

// change is what a pass that added entries tells the store.
func (hs *history) change(added []KeptEntry) KeptChange {
	feed, chat := hs.firstKept()
	return KeptChange{Epoch: hs.epoch, Dropped: hs.dropped, Add: added, FeedFrom: feed, ChatFrom: chat}
}

// load fills a new room's history from what the store kept; it reports
// the newest seq, which the hub's sequence must pass.
func (hs *history) load(k KeptRoom, cfg *Config) uint64 {
	if k.Epoch == "" {
		return 0
	}
	hs.epoch = k.Epoch
	for _, e := range k.Entries {
		if e.Chat {
			hs.addChat(chatEntry{seq: e.Seq, prev: e.Prev, frame: json.RawMessage(e.Data)}, cfg.ChatHistory, cfg.ChatHistoryBytes)
			continue
		}
		var ev Event
		if json.Unmarshal(e.Data, &ev) != nil {
			continue
		}
		ev.Seq, ev.Prev = e.Seq, e.Prev
		hs.addEvent(ev, cfg.FeedSize)
	}
	hs.dropped = max(hs.dropped, k.Dropped)
	return hs.lastSeq
}
