package hub

// Tests of the send path (member.send, member.sent, room.fanout): frames
// coalesce into batch frames for batch=1 sessions only, keep their order,
// and never mix binary frames into text.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"filehub/files"

	"github.com/gorilla/websocket"
)

// member returns the live member named name in room.
func (h *Hub) member(t testing.TB, room, name string) *member {
	t.Helper()
	h.mu.Lock()
	r := h.rooms[room]
	h.mu.Unlock()
	if r == nil {
		t.Fatalf("no room %q", room)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, mb := range r.members {
		if mb.name == name {
			return mb
		}
	}
	t.Fatalf("no member %q in %q", name, room)
	return nil
}

// TestSendOrderAndBatches: frames sent to a session whose socket is full
// wait in its queues and leave, for a batch=1 session, as batch frames of
// consecutive text frames; text frames keep their order, stream chunks
// theirs, and text may overtake waiting chunks but nothing is nested.
func TestSendOrderAndBatches(t *testing.T) {
	t.Parallel()
	for _, batch := range []bool{true, false} {
		t.Run("batch="+strconv.FormatBool(batch), func(t *testing.T) {
			t.Parallel()
			th := newTestHub(t, Config{}, nil)
			q := "room=o&name=c"
			if batch {
				q += "&batch=1"
			}
			cl := th.dial(t, q, true) // small socket buffers: the writer blocks soon
			mb := th.member(t, "o", "c")
			const n = 600
			pad := bytes.Repeat([]byte("x"), 200)
			texts, chunks := 0, 0
			for i := range n {
				if i%50 == 49 {
					f := binary.BigEndian.AppendUint32(nil, uint32(chunks))
					chunks++
					mb.sendBinary(append(f, pad...))
					continue
				}
				mb.send(fmt.Appendf(nil, `{"kind":"chat","text":"%d","pad":"%s"}`, texts, pad))
				texts++
			}
			nextText, nextChunk, batches := 0, 0, 0
			for nextText < texts || nextChunk < chunks {
				cl.Conn.SetReadDeadline(time.Now().Add(readTimeout))
				typ, data, err := cl.Conn.ReadMessage()
				if err != nil {
					t.Fatalf("after %d texts and %d chunks: %v", nextText, nextChunk, err)
				}
				if typ == websocket.BinaryMessage {
					if got := binary.BigEndian.Uint32(data); int(got) != nextChunk {
						t.Fatalf("chunk %d, want %d", got, nextChunk)
					}
					nextChunk++
					continue
				}
				var f struct {
					Kind   string
					Text   string
					Frames []json.RawMessage
				}
				if err := json.Unmarshal(data, &f); err != nil {
					t.Fatal(err)
				}
				elems := []json.RawMessage{data}
				if f.Kind == "batch" {
					if !batch {
						t.Fatal("a batch frame to a session that did not ask for them")
					}
					batches++
					elems = f.Frames
				}
				for _, e := range elems {
					var c struct{ Kind, Text string }
					if err := json.Unmarshal(e, &c); err != nil || c.Kind == "batch" {
						t.Fatalf("element %.60s: %v (nested batch?)", e, err)
					}
					if c.Kind != "chat" {
						continue // presence
					}
					if c.Text != strconv.Itoa(nextText) {
						t.Fatalf("chat %s, want %d", c.Text, nextText)
					}
					nextText++
				}
			}
			if batch && batches == 0 {
				t.Fatal("no batch frame although the socket was full")
			}
			t.Logf("%d frames in %d batch frames", n, batches)
		})
	}
}

// busyMembers makes n members of a room whose writers are busy, so that
// every frame sent to them waits in their queues: the send path's own cost,
// without melody (a melody.Session cannot be built outside melody) and
// without the network.
func busyMembers(t testing.TB, cfg Config, n int, batch bool) (*Hub, *room, []*member) {
	t.Helper()
	store, err := files.Open(t.TempDir(), files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := New(store, cfg)
	t.Cleanup(func() { h.Close(context.Background()) })
	r := newRoom(h, "busy")
	mbs := make([]*member, n)
	for i := range mbs {
		mb := newMember(h, joinRequest{room: "busy", name: "m" + strconv.Itoa(i), batch: batch})
		mb.writing.busy = true // frames queue
		mb.room = r
		mb.pos = i
		r.names[mb.name] = mb.id
		r.members = append(r.members, mb)
		if batch {
			r.batchers++
		}
		mbs[i] = mb
	}
	return h, r, mbs
}

// drain empties a busy member's text queue and returns what it held.
func (mb *member) drain() []outFrame {
	mb.sendMu.Lock()
	defer mb.sendMu.Unlock()
	q := slices.Clone(mb.text.pending())
	mb.text.pop(len(q))
	mb.queued = 0
	mb.oldest.Store(0)
	return q
}

// TestFanoutBatches: a pass of several frames reaches a batch=1 member as
// one batch frame, built once for all of them, and others frame by frame.
func TestFanoutBatches(t *testing.T) {
	t.Parallel()
	for _, batch := range []bool{true, false} {
		_, r, mbs := busyMembers(t, Config{}, 2, batch)
		frames := [][]byte{[]byte(`{"kind":"a"}`), []byte(`{"kind":"b"}`), []byte(`{"kind":"c"}`)}
		r.fanout(frames, r.members, time.Now().UnixNano())
		want := `{"kind":"a"}{"kind":"b"}{"kind":"c"}`
		if batch {
			want = `{"kind":"batch","frames":[{"kind":"a"},{"kind":"b"},{"kind":"c"}]}`
		}
		var first []byte
		for _, mb := range mbs {
			q := mb.drain()
			var got []byte
			for _, f := range q {
				got = append(got, f.b...)
			}
			if string(got) != want {
				t.Errorf("batch=%v: %s got %s, want %s", batch, mb.name, got, want)
			}
			if batch && first != nil && &q[0].b[0] != &first[0] {
				t.Errorf("batch=%v: the batch frame was built per member", batch)
			}
			if len(q) > 0 {
				first = q[0].b
			}
		}
	}
}

// TestBatchBuilding: the writer packs the leading text frames of a queue,
// splicing room batches, stopping at maxBatch bytes.
func TestBatchBuilding(t *testing.T) {
	t.Parallel()
	text := func(s string) outFrame { return outFrame{b: []byte(s)} }
	q := []outFrame{
		text(`{"k":1}`),
		{b: buildBatch([][]byte{[]byte(`{"k":2}`), []byte(`{"k":3}`)}), batch: true},
		text(`{"k":4}`),
	}
	n := batchRun(q)
	if n != 3 {
		t.Fatalf("batchRun = %d, want 3", n)
	}
	got := string(appendBatch(nil, q[:n]))
	if want := `{"kind":"batch","frames":[{"k":1},{"k":2},{"k":3},{"k":4}]}`; got != want {
		t.Fatalf("batch %s, want %s", got, want)
	}
	big := text(string(bytes.Repeat([]byte("y"), maxBatch/2)))
	if n := batchRun([]outFrame{big, big, big}); n != 1 {
		t.Fatalf("batchRun of three %d-byte frames = %d, want 1 (maxBatch %d)", len(big.b), n, maxBatch)
	}
	if n := batchRun([]outFrame{text(string(bytes.Repeat([]byte("z"), 2*maxBatch)))}); n != 1 {
		t.Fatalf("a frame over maxBatch must still go: batchRun = %d", n)
	}
}

// TestBuildBatches: a pass's frames go to batch=1 members as batch frames
// of at most maxBatch bytes, in order; a frame too large to share one goes
// alone, as it is.
func TestBuildBatches(t *testing.T) {
	t.Parallel()
	small := func(i int) []byte {
		return fmt.Appendf(nil, `{"kind":"fs","n":%d,"pad":"%s"}`, i, bytes.Repeat([]byte("p"), 100))
	}
	var frames [][]byte
	for i := range 2000 {
		frames = append(frames, small(i))
		if i == 1000 {
			frames = append(frames, []byte(`{"kind":"shared","content":"`+string(bytes.Repeat([]byte("c"), 2*maxBatch))+`"}`))
		}
	}
	var got []string
	bigAlone := false
	for _, p := range buildBatches(frames) {
		if !p.batch { // the large one, or a last run of one
			bigAlone = bigAlone || len(p.frame) > maxBatch
			got = append(got, string(p.frame))
			continue
		}
		if len(p.frame) > maxBatch {
			t.Fatalf("a batch of %d bytes, over %d", len(p.frame), maxBatch)
		}
		var b struct{ Frames []json.RawMessage }
		if err := json.Unmarshal(p.frame, &b); err != nil {
			t.Fatal(err)
		}
		for _, f := range b.Frames {
			got = append(got, string(f))
		}
	}
	if !bigAlone || len(got) != len(frames) {
		t.Fatalf("%d frames out (the large one alone: %v), want %d", len(got), bigAlone, len(frames))
	}
	for i, f := range frames {
		if got[i] != string(f) {
			t.Fatalf("frame %d out of order", i)
		}
	}
}
