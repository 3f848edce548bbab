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
