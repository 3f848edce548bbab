package cluster

import (
	"strconv"
	"testing"
)

// TestSeenSet: the first copy of an id is new, the second is not, and a
// third (which never comes in practice) would count as new again; past
// seenLimit ids the oldest are forgotten, the newest kept.
func TestSeenSet(t *testing.T) {
	var s seenSet
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"a", true}, {"b", true}, {"a", false}, {"b", false}, {"a", true},
	} {
		if got := s.add(tc.id); got != tc.want {
			t.Fatalf("add(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	s = seenSet{}
	for i := range seenLimit + 10 {
		s.add(strconv.Itoa(i))
	}
	if len(s.m) != seenLimit || len(s.ring) != seenLimit {
		t.Fatalf("holds %d ids in a ring of %d, want %d", len(s.m), len(s.ring), seenLimit)
	}
	if !s.add("0") {
		t.Error("the oldest id is still remembered past the limit")
	}
	if s.add(strconv.Itoa(seenLimit + 9)) {
		t.Error("the newest id is forgotten")
	}
}
