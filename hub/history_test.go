package hub

import (
	"fmt"
	"testing"
)

// TestHistoryAfter: a room keeps its last events, and says a client that
// comes back is recovered only when nothing after its since was dropped.
func TestHistoryAfter(t *testing.T) {
	t.Parallel()
	hs := history{epoch: "e"}
	var prev uint64
	for seq := uint64(10); seq <= 100; seq += 10 { // ten events, seqs 10 to 100
		hs.addEvent(Event{Seq: seq, Prev: prev}, 3)
		prev = seq
	}
	tests := []struct {
		since     uint64
		epoch     string
		feed      string
		recovered bool
	}{
		{100, "e", "[]", true},
		{90, "e", "[100]", true},
		{80, "e", "[90 100]", true},
		{70, "e", "[80 90 100]", true},  // 80's Prev is 70: nothing dropped after 70
		{60, "e", "[80 90 100]", false}, // 70 was dropped
		{0, "e", "[80 90 100]", false},
		{85, "e", "[90 100]", true}, // not one of its seqs, but nothing of the room lies between 80 and 90
		{90, "x", "[100]", false},   // another epoch
		{110, "e", "[]", false},     // from the future
	}
	for _, tc := range tests {
		feed, ok := hs.after(tc.since, tc.epoch)
		var seqs []uint64
		for _, e := range feed {
			seqs = append(seqs, e.Seq)
		}
		got := fmt.Sprint(seqs)
		if len(seqs) == 0 {
			got = "[]"
		}
		if got != tc.feed || ok != tc.recovered {
			t.Errorf("after(%d, %q) = %s %v, want %s %v", tc.since, tc.epoch, got, ok, tc.feed, tc.recovered)
		}
	}
}

// TestHistoryChat: chat and feed share one sequence, and since covers
// both: a chat line trimmed after since makes the return unrecovered, as
// an event does; a history whose first entries (replayed by a broker)
// name a predecessor it never held knows that one is missing.
func TestHistoryChat(t *testing.T) {
	t.Parallel()
	hs := history{epoch: "e"}
	hs.addEvent(Event{Seq: 1}, 10)
	hs.addChat(chatEntry{seq: 2, frame: []byte(`{"kind":"chat","seq":2}`)}, 2, 1<<20)
	hs.addChat(chatEntry{seq: 3, prev: 2, frame: []byte(`{"kind":"chat","seq":3}`)}, 2, 1<<20)
	hs.addEvent(Event{Seq: 4, Prev: 1}, 10)
	for _, tc := range []struct {
		since uint64
		want  bool
	}{{0, true}, {1, true}, {3, true}, {4, true}} {
		if _, ok := hs.after(tc.since, "e"); ok != tc.want {
			t.Errorf("before trimming: after(%d) recovered %v, want %v", tc.since, ok, tc.want)
		}
	}
	hs.addChat(chatEntry{seq: 5, prev: 3, frame: []byte(`{"kind":"chat","seq":5}`)}, 2, 1<<20) // line 2 goes
	if got := len(hs.chatFrames()); got != 2 {
		t.Fatalf("holds %d lines, want 2", got)
	}
	for _, tc := range []struct {
		since uint64
		want  bool
	}{{0, false}, {1, false}, {2, true}, {4, true}, {5, true}, {6, false}} {
		if _, ok := hs.after(tc.since, "e"); ok != tc.want {
			t.Errorf("after trimming line 2: after(%d) recovered %v, want %v", tc.since, ok, tc.want)
		}
	}

	replayed := history{epoch: "js"}
	replayed.addEvent(Event{Seq: 40, Prev: 30}, 10) // 30 was discarded before this node read the room
	replayed.addChat(chatEntry{seq: 41, prev: 0, frame: []byte(`{}`)}, 10, 1<<20)
	for _, tc := range []struct {
		since uint64
		want  bool
	}{{20, false}, {30, true}, {35, true}, {41, true}} {
		if _, ok := replayed.after(tc.since, "js"); ok != tc.want {
			t.Errorf("replayed: after(%d) recovered %v, want %v", tc.since, ok, tc.want)
		}
	}
}

// TestWithSeq: the seq goes last, the kind stays first.
func TestWithSeq(t *testing.T) {
	t.Parallel()
	if got := string(withSeq([]byte(`{"kind":"chat","text":"}"}`), 42)); got != `{"kind":"chat","text":"}","seq":42}` {
		t.Fatalf("withSeq: %s", got)
	}
}
