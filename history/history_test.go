package history

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filehub/hub"
)

func open(t *testing.T, path string, cfg Config) *Store {
	t.Helper()
	s, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func entries(k hub.KeptRoom) string {
	var b strings.Builder
	for _, e := range k.Entries {
		kind := "f"
		if e.Chat {
			kind = "c"
		}
		fmt.Fprintf(&b, "%s%d<%d:%s ", kind, e.Seq, e.Prev, e.Data)
	}
	return strings.TrimSpace(b.String())
}

// TestSaveLoad: what a room saved comes back after the file is closed and
// opened again, both kinds merged in seq order; entries before the oldest
// kept of their kind are gone; rooms are apart.
func TestSaveLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	s := open(t, path, Config{})
	if k, err := s.LoadRoom("none"); err != nil || k.Epoch != "" || len(k.Entries) != 0 {
		t.Fatalf("an unknown room: %+v %v", k, err)
	}
	must := func(room string, c hub.KeptChange) {
		t.Helper()
		if err := s.SaveRoom(room, c); err != nil {
			t.Fatal(err)
		}
	}
	must("r", hub.KeptChange{Epoch: "e1", Add: []hub.KeptEntry{
		{Seq: 1, Data: []byte("a")}, {Seq: 2, Chat: true, Data: []byte("x")}, {Seq: 3, Prev: 1, Data: []byte("b")},
	}, FeedFrom: 1, ChatFrom: 2})
	must("other", hub.KeptChange{Epoch: "e9", Add: []hub.KeptEntry{{Seq: 7, Data: []byte("o")}}, FeedFrom: 7})
	must("r", hub.KeptChange{Epoch: "e1", Dropped: 1, Add: []hub.KeptEntry{
		{Seq: 4, Prev: 2, Chat: true, Data: []byte("y")}, {Seq: 5, Prev: 3, Data: []byte("c")},
	}, FeedFrom: 3, ChatFrom: 2})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, Config{})
	k, err := s.LoadRoom("r")
	if err != nil {
		t.Fatal(err)
	}
	if k.Epoch != "e1" || k.Dropped != 1 || entries(k) != "c2<0:x f3<1:b c4<2:y f5<3:c" {
		t.Fatalf("room r: epoch %q dropped %d entries %s", k.Epoch, k.Dropped, entries(k))
	}
	if k, _ := s.LoadRoom("other"); entries(k) != "f7<0:o" || k.Epoch != "e9" {
		t.Fatalf("room other: %s", entries(k))
	}
}

// TestSweep: rooms nobody wrote to for MaxAge go, and past MaxRooms the
// least recently changed; a room swept while open and saved again says
// that what came before is gone.
func TestSweep(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := open(t, path, Config{MaxRooms: 2, MaxAge: time.Hour, Now: clock})
	start := now
	for i, room := range []string{"old", "a", "b", "c"} {
		now = start.Add([]time.Duration{0, 150 * time.Minute, 160 * time.Minute, 170 * time.Minute}[i])
		if err := s.SaveRoom(room, hub.KeptChange{Epoch: room, Add: []hub.KeptEntry{{Seq: uint64(i + 1), Data: []byte(room)}}}); err != nil {
			t.Fatal(err)
		}
	}
	now = start.Add(3 * time.Hour) // old is 3 h old; a, b and c under 1 h
	if err := s.sweep(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		room string
		kept bool
	}{{"old", false}, {"a", false}, {"b", true}, {"c", true}} {
		k, err := s.LoadRoom(tc.room)
		if err != nil {
			t.Fatal(err)
		}
		if (k.Epoch != "") != tc.kept {
			t.Errorf("room %s kept %v, want %v", tc.room, k.Epoch != "", tc.kept)
		}
	}
	// "a" was open meanwhile: its next pass names entries it no longer has.
	if err := s.SaveRoom("a", hub.KeptChange{Epoch: "a", Add: []hub.KeptEntry{{Seq: 9, Prev: 2, Data: []byte("late")}}}); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.LoadRoom("a"); k.Dropped != 2 {
		t.Fatalf("a room swept while open: dropped %d, want 2", k.Dropped)
	}
}

// TestInUse: a file held by another store is refused after a second, and
// the error names it.
func TestInUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	open(t, path, Config{})
	_, err := Open(path, Config{})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second Open: %v", err)
	}
}

// BenchmarkSaveRoom is what a room's delivery pass pays to keep what it
// adds: one transaction of lines chat lines of 100 bytes, the room
// trimmed to 100 lines, synced (or not) to disk.
func BenchmarkSaveRoom(b *testing.B) {
	for _, lines := range []int{1, 50} {
		for _, noSync := range []bool{false, true} {
			b.Run(fmt.Sprintf("lines=%d/nosync=%v", lines, noSync), func(b *testing.B) {
				s, err := Open(filepath.Join(b.TempDir(), "h.db"), Config{NoSync: noSync})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				data := []byte(`{"kind":"chat","from":{"id":"3f9a0c1e","name":"ann"},"text":"` + strings.Repeat("x", 100) + `","at":"2026-12-07T08:00:00Z","seq":1}`)
				seq := uint64(0)
				b.ReportAllocs()
				for b.Loop() {
					add := make([]hub.KeptEntry, lines)
					for i := range add {
						seq++
						add[i] = hub.KeptEntry{Seq: seq, Prev: seq - 1, Chat: true, Data: data}
					}
					from := uint64(1)
					if seq > 100 {
						from = seq - 99
					}
					if err := s.SaveRoom("bench", hub.KeptChange{Epoch: "e", Add: add, ChatFrom: from}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
