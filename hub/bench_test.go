package hub

// Benchmarks of the hub's hot paths. Run with
//
//	go test -run '^$' -bench . -benchmem ./hub
//
// BenchmarkBroadcast measures one room broadcast end to end over real
// sessions on loopback (1 and 100 of them; more would measure the client
// goroutines in this same process as much as the server). BenchmarkFanout
// measures the server's share of a broadcast to 10,000 members, encoding
// and queueing included, with the real code path up to melody: members whose
// writer is busy, as it is under load, so each frame waits in their queue.
// BenchmarkDecode measures the two decoding steps of a client frame.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filehub/files"

	"github.com/gorilla/websocket"
)

func benchChat() chatFrame {
	return chatFrame{Kind: kindChat, From: MemberRef{ID: "3f9a0c1e", Name: "publisher"},
		Text: string(bytes.Repeat([]byte("x"), 100)), At: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
}

func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{1, 100} {
		for _, batch := range []bool{false, true} {
			b.Run(fmt.Sprintf("sessions=%d/batch=%v", n, batch), func(b *testing.B) {
				benchBroadcast(b, n, batch)
			})
		}
	}
}

// benchBroadcast: each op is one chat broadcast to n sessions; the clock
// stops when every session has read every message. The loop lets at most
// window messages be in flight to the slowest session, as a room with one
// publisher does, so that queues stay within their limit.
func benchBroadcast(b *testing.B, n int, batch bool) {
	store, err := files.Open(b.TempDir(), files.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h := New(store, Config{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close(context.Background())
	q := "room=bench"
	if batch {
		q += "&batch=1"
	}
	got := make([]atomic.Int64, n)
	var wg sync.WaitGroup
	for i := range n {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Listener.Addr().String()+"/?"+q, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 64<<10)
			for {
				_, r, err := c.NextReader()
				if err != nil {
					return
				}
				buf = buf[:0]
				for {
					if len(buf) == cap(buf) {
						buf = append(buf, 0)[:len(buf)]
					}
					m, err := r.Read(buf[len(buf):cap(buf)])
					buf = buf[:len(buf)+m]
					if err == io.EOF {
						break
					}
					if err != nil {
						return
					}
				}
				got[i].Add(int64(bytes.Count(buf, []byte(`"kind":"chat"`))))
			}
		}()
	}
	for h.roomCount("bench") != n {
		time.Sleep(time.Millisecond) // polling the join, before the clock starts
	}
	h.mu.RLock()
	r := h.rooms["bench"]
	h.mu.RUnlock()
	slowest := func() int64 {
		m := got[0].Load()
		for i := range got {
			m = min(m, got[i].Load())
		}
		return m
	}
	const window = 512
	f := benchChat()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h.publishFrame(r.name, f)
		for int64(i)-slowest() > window {
			time.Sleep(50 * time.Microsecond) // flow control, as a publisher's TCP window would
		}
	}
	for slowest() < int64(b.N) {
		time.Sleep(50 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(0, "ns/op") // per delivery is what matters; ns/op is per broadcast to all n
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
}

func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		for _, batch := range []bool{false, true} {
			b.Run(fmt.Sprintf("members=%d/batch=%v", n, batch), func(b *testing.B) {
				// The room's pass, run on the benchmark's goroutine: encoding
				// once, then queueing to every member.
				h, r, mbs := busyMembers(b, Config{QueueBytes: 1 << 40}, n, batch)
				f := benchChat()
				now := time.Now().UnixNano()
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					m := h.frame(f)
					r.fanout([][]byte{m.Frame}, r.members, now)
					if i%64 == 63 {
						b.StopTimer()
						for _, mb := range mbs {
							mb.drain()
						}
						b.StartTimer()
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/member")
			})
		}
	}
}

// BenchmarkWriterBatch is the other half of a busy fan-out: a writer taking
// a queue of 32 chat frames and packing them into one batch frame.
func BenchmarkWriterBatch(b *testing.B) {
	frame := []byte(`{"kind":"chat","from":{"id":"3f9a0c1e","name":"publisher"},"text":"` + string(bytes.Repeat([]byte("x"), 100)) + `","at":"2026-01-02T03:04:05.000000006Z"}`)
	q := make([]outFrame, 32)
	for i := range q {
		q[i] = outFrame{b: frame}
	}
	b.ReportAllocs()
	b.SetBytes(int64(32 * len(frame)))
	for b.Loop() {
		bp := batchPool.Get().(*[]byte)
		*bp = appendBatch((*bp)[:0], q[:batchRun(q)])
		batchPool.Put(bp)
	}
}

func BenchmarkDecode(b *testing.B) {
	frames := map[string]struct {
		data []byte
		body any
	}{
		"chat": {[]byte(`{"kind":"chat","id":"17","text":"` + string(bytes.Repeat([]byte("x"), 100)) + `"}`), &chatRequest{}},
		"get":  {[]byte(`{"kind":"get","id":"18","path":"docs/a.md"}`), &pathRequest{}},
	}
	for _, name := range []string{"chat", "get"} {
		fr := frames[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(fr.data)))
			for b.Loop() {
				kind, _, err := decodeEnvelope(fr.data)
				if err != nil || kind != name {
					b.Fatal(kind, err)
				}
				if err := decodeBody(fr.data, fr.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeChat is the one encoding a broadcast costs, whatever the
// room's size (marshal: JSON without HTML escaping).
func BenchmarkEncodeChat(b *testing.B) {
	f := benchChat()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshal(f); err != nil {
			b.Fatal(err)
		}
	}
}
