package hub

// Tests of large streamed gets: bytes and sha256 of a 200 MiB file, the
// server's heap while 20 sessions stream 100 MiB each, and what a client
// that vanishes mid-stream leaves behind. The clients hash what they read
// through a fixed buffer and keep none of it, so that the heap measured is
// the server's.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// writeRandomFile writes size pseudo-random bytes (ChaCha8, seeded: fast
// and the same every run) to name and returns their sha256 in hex.
func writeRandomFile(t testing.TB, name string, size int64, seed byte) string {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var key [32]byte
	key[0] = seed
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.NewChaCha8(key), size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// streamResult is what a client made of one streamed get.
type streamResult struct {
	size     int64  // from file-start
	received int64  // payload bytes of the stream's binary frames
	sum      string // sha256 of those bytes
	endSum   string // file-end's sha256
}

// getStream sends a get of path and reads until its file-end, hashing each
// binary frame's payload through buf. It fails on an error frame.
func getStream(c *websocket.Conn, id, path string, buf []byte) (streamResult, error) {
	var res streamResult
	if err := c.WriteJSON(map[string]any{"kind": "get", "id": id, "path": path}); err != nil {
		return res, err
	}
	var h hash.Hash = sha256.New()
	stream := int64(-1)
	for {
		c.SetReadDeadline(time.Now().Add(readTimeout))
		typ, r, err := c.NextReader()
		if err != nil {
			return res, err
		}
		if typ == websocket.BinaryMessage {
			var head [4]byte
			if _, err := io.ReadFull(r, head[:]); err != nil {
				return res, err
			}
			if int64(binary.BigEndian.Uint32(head[:])) != stream {
				return res, fmt.Errorf("a chunk of stream %d, want %d", binary.BigEndian.Uint32(head[:]), stream)
			}
			n, err := io.CopyBuffer(h, r, buf)
			if err != nil {
				return res, err
			}
			res.received += n
			continue
		}
		var m msg
		b, err := io.ReadAll(r)
		if err != nil {
			return res, err
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return res, err
		}
		switch m.Kind() {
		case "file-start":
			stream = int64(m["stream"].(float64))
			res.size = int64(m["size"].(float64))
		case "file-end":
			res.sum = hex.EncodeToString(h.Sum(nil))
			res.endSum, _ = m["sha256"].(string)
			return res, nil
		case "error":
			return res, fmt.Errorf("error frame %v", m)
		}
	}
}

// TestStreamedGet200MiB: a 200 MiB file arrives whole, its bytes matching
// the file's sha256 and file-end's. Not parallel: it keeps both cores of a
// small machine busy for a while, which would distort the timing-sensitive
// tests beside it (TestJoinStormPresence counts frames per interval).
func TestStreamedGet200MiB(t *testing.T) {
	const size = 200 << 20
	th := newTestHub(t, Config{}, nil)
	want := writeRandomFile(t, filepath.Join(th.dir, "big.bin"), size, 1)
	cl := th.dial(t, "room=big&name=big", false)
	start := time.Now()
	res, err := getStream(cl.Conn, "g", "big.bin", make([]byte, 64<<10))
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("200 MiB streamed in %v (%.0f MB/s)", el.Round(time.Millisecond), size/el.Seconds()/1e6)
	if res.size != size || res.received != size || res.sum != want || res.endSum != want {
		t.Fatalf("got %+v, want %d bytes with sha256 %s", res, size, want)
	}
}

// TestStreamMemory: while 20 sessions each stream a 100 MiB file (one file
// shared by all), the heap stays within a few MiB of where it started,
// since a stream holds at most Window chunks. Not parallel: the heap is
// the process's, and other tests would add to it.
func TestStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("2 GiB over loopback")
	}
	const (
		sessions = 20
		size     = 100 << 20
	)
	th := newTestHub(t, Config{Logger: slog.New(slog.DiscardHandler)}, nil)
	want := writeRandomFile(t, filepath.Join(th.dir, "big.bin"), size, 2)
	clients := make([]*wsClient, sessions)
	for i := range clients {
		clients[i] = th.dial(t, fmt.Sprintf("room=mem&name=m%d", i), false)
	}
	for _, cl := range clients { // the presence frames of the joins, out of the way
		drainText(t, cl)
	}
	base := heapNow()

	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	done := make(chan struct{})
	for i, cl := range clients {
		wg.Go(func() {
			res, err := getStream(cl.Conn, "g", "big.bin", make([]byte, 32<<10))
			switch {
			case err != nil:
				errs <- fmt.Errorf("session %d: %w", i, err)
			case res.received != size || res.sum != want || res.endSum != want:
				errs <- fmt.Errorf("session %d: %+v", i, res)
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	var peak heap
	samples := 0
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-tick.C:
			h := heapNow()
			peak.alloc, peak.inuse = max(peak.alloc, h.alloc), max(peak.inuse, h.inuse)
			samples++
		}
	}
	el := time.Since(start)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d sessions × 100 MiB in %v (%.0f MB/s in all), %d heap samples after GC: HeapAlloc %.1f → peak %.1f MiB (%+.1f), HeapInuse %.1f → peak %.1f MiB (%+.1f)",
		sessions, el.Round(time.Millisecond), float64(sessions*size)/el.Seconds()/1e6, samples,
		mib(base.alloc), mib(peak.alloc), mib(peak.alloc)-mib(base.alloc),
		mib(base.inuse), mib(peak.inuse), mib(peak.inuse)-mib(base.inuse))
	if samples == 0 {
		t.Fatal("no heap sample taken during the streams")
	}
	// Each stream holds at most Window buffers of 4+ChunkSize bytes (each a
	// large object of 9 pages): 20 × 4 × 72 KiB = 5.6 MiB, what an exact heap
	// profile shows. The slack covers the sessions' encoders and buffers and
	// the clients' (this process's too), about 4 MiB; the race detector's
	// runtime adds about 5 MiB more. A stream that read ahead of its
	// session would cost up to the file's size.
	c := th.cfg
	bound := uint64(sessions*c.Window*(c.ChunkSize+8<<10)) + 6<<20
	if raceEnabled {
		bound += 6 << 20
	}
	if grew := peak.alloc - min(peak.alloc, base.alloc); grew > bound {
		t.Errorf("HeapAlloc grew by %.1f MiB, want at most %.1f MiB", mib(grew), mib(bound))
	}
	if grew := peak.inuse - min(peak.inuse, base.inuse); grew > bound+2<<20 {
		t.Errorf("HeapInuse grew by %.1f MiB, want at most %.1f MiB", mib(grew), mib(bound+2<<20))
	}
}

// TestStreamClientVanishes: a client that drops its connection mid-stream
// leaves no goroutine and no open file behind. Not parallel: it counts the
// process's goroutines.
func TestStreamClientVanishes(t *testing.T) {
	th := newTestHub(t, Config{Inline: 1000}, nil)
	writeRandomFile(t, filepath.Join(th.dir, "vanish.bin"), 32<<20, 3)
	baseG := runtime.NumGoroutine()
	cl := th.dial(t, "room=v&name=v", false)
	for i := range 3 {
		cl.Send(map[string]any{"kind": "get", "id": fmt.Sprint("g", i), "path": "vanish.bin"})
	}
	chunks := 0
	for chunks < 10 { // the streams are under way
		m, _, err := cl.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind() == "(binary)" {
			chunks++
		}
	}
	if n := openFilesNamed(t, "vanish.bin"); n != 3 {
		t.Fatalf("%d open descriptors of vanish.bin during 3 streams, want 3", n)
	}
	// Gone without a close frame: the TCP connection just closes.
	cl.Conn.NetConn().Close()
	deadline := time.Now().Add(readTimeout)
	for {
		g, fds := runtime.NumGoroutine(), openFilesNamed(t, "vanish.bin")
		if g <= baseG && fds == 0 && th.streamCount() == 0 {
			t.Logf("goroutines back to %d (baseline %d), no open file", g, baseG)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after the client vanished: %d goroutines (baseline %d), %d open descriptors of vanish.bin, %d streams\n%s",
				g, baseG, fds, th.streamCount(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded by deadline
	}
}

// openFilesNamed counts this process's open descriptors of files named name.
func openFilesNamed(t *testing.T, name string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasSuffix(target, "/"+name) {
			n++
		}
	}
	return n
}

// heap is a sample of the heap after a GC.
type heap struct{ alloc, inuse uint64 }

// heapNow collects garbage first, so that what remains is what is held.
func heapNow() heap {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return heap{alloc: ms.HeapAlloc, inuse: ms.HeapInuse}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// drainText reads up to a pong, which the server queues after everything
// it queued for the session before.
func drainText(t *testing.T, cl *wsClient) {
	t.Helper()
	cl.Send(map[string]any{"kind": "ping", "id": "drain"})
	for {
		if m := cl.Read(); m.Kind() == "pong" && m["id"] == "drain" {
			return
		}
	}
}
