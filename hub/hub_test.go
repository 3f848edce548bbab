package hub

// Tests of the hub alone, on a real loopback listener with real gorilla
// clients, for what needs the hub's own knobs: small queues, short
// keepalives, crowded rooms. The whole server is tested in ../hub_test.go.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"filehub/files"
	"filehub/internal/testutil"

	"github.com/gorilla/websocket"
)

// readTimeout bounds every read of these tests.
const readTimeout = testutil.Timeout

type testHub struct {
	*Hub
	srv  *httptest.Server
	addr string
	dir  string
}

// slowPeer is the loopback address slow test clients dial from: the server
// shrinks the send buffer of their connections, and they their receive
// buffer, so that a client that stops reading fills them after kilobytes,
// not megabytes. Every other connection keeps the kernel's defaults.
var slowPeer = net.IPv4(127, 0, 0, 2)

type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && tc.RemoteAddr().(*net.TCPAddr).IP.Equal(slowPeer) {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// newTestHub serves a Hub over a folder holding the given files.
func newTestHub(t *testing.T, cfg Config, content map[string]string) *testHub {
	t.Helper()
	dir := t.TempDir()
	for name, body := range content {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store, err := files.Open(dir, files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	h := New(store, cfg)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	th := &testHub{Hub: h, srv: srv, addr: srv.Listener.Addr().String(), dir: dir}
	t.Cleanup(func() {
		h.Shutdown()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("hub close: %v", err)
		}
		store.Close()
	})
	return th
}

func testLogger(t *testing.T) *slog.Logger { return testutil.Logger(t, slog.LevelInfo) }

type msg = testutil.Frame

type wsClient = testutil.Client

// dial joins a room; a slow client has small socket buffers (see slowPeer).
func (th *testHub) dial(t *testing.T, query string, slow bool) *wsClient {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: readTimeout}
	if slow {
		d.NetDial = func(network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: slowPeer}, Control: func(_, _ string, c syscall.RawConn) error {
				var err error
				c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
				return err
			}}
			return nd.Dial(network, addr)
		}
	}
	return th.dialWith(t, query, d)
}

// dialWith joins a room with d and reads the welcome.
func (th *testHub) dialWith(t *testing.T, query string, d websocket.Dialer) *wsClient {
	t.Helper()
	return testutil.Dial(t, d, "ws://"+th.addr+"/?"+query, nil)
}

// TestJoinStormPresence: 1,000 sessions joining one room cost far fewer than
// 1,000² presence frames, because presence is coalesced above the threshold.
func TestJoinStormPresence(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	t.Parallel()
	const threshold, interval = 100, 100 * time.Millisecond
	th := newTestHub(t, Config{PresenceThreshold: threshold, PresenceInterval: interval, Logger: slog.New(slog.DiscardHandler)}, nil)
	const n = 1000
	start := time.Now()
	var frames atomic.Int64
	var wg sync.WaitGroup
	clients := make([]*wsClient, n)
	for i := range n {
		clients[i] = th.dial(t, "room=storm", false)
		wg.Add(1)
		go func(cl *wsClient) {
			defer wg.Done()
			for {
				m, _, err := cl.Next()
				if err != nil {
					return
				}
				if k := m.Kind(); k == "presence" || k == "count" {
					frames.Add(1)
				}
			}
		}(clients[i])
	}
	// The last count frame reports all n: wait for it on the first client's
	// behalf through the hub, then close everyone.
	deadline := time.Now().Add(readTimeout)
	for th.roomCount("storm") != n || th.pendingPresence("storm") {
		if time.Now().After(deadline) {
			t.Fatal("room never settled")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded by deadline
	}
	took := time.Since(start)
	for _, cl := range clients {
		cl.Conn.Close()
	}
	wg.Wait()
	got := frames.Load()
	// What coalescing promises: a presence frame per member per join up to
	// the threshold, then at most one count frame per member per interval,
	// however long the joins take (a busy machine under -race stretches
	// them): O(n) per interval, not O(n) per join.
	intervals := int64(took/interval) + 2
	bound := int64(threshold*threshold) + n*intervals
	t.Logf("%d sessions joining in %v cost %d presence frames (bound %d; n² = %d)", n, took.Round(time.Millisecond), got, bound, n*n)
	if got > bound {
		t.Fatalf("%d presence frames for %d joins, over %d: not coalesced", got, n, bound)
	}
}

func (h *Hub) roomCount(name string) int {
	h.mu.Lock()
	r := h.rooms[name]
	h.mu.Unlock()
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

func (h *Hub) pendingPresence(name string) bool {
	h.mu.Lock()
	r := h.rooms[name]
	h.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.timer != nil
}

// TestDeadPeerDropped: a peer that stops answering pings is gone within
// PongWait, and the room is told.
func TestDeadPeerDropped(t *testing.T) {
	t.Parallel()
	// PongWait leaves the live watcher room to answer on a loaded machine (at
	// 200 ms, a suite run beside others saw the watcher dropped too).
	th := newTestHub(t, Config{PingPeriod: 100 * time.Millisecond, PongWait: time.Second}, nil)
	watcher := th.dial(t, "room=k&name=watcher", false)
	// The watcher answers pings because it keeps reading; the dead one
	// never reads again, so it never answers.
	th.dial(t, "room=k&name=dead", false)
	start := time.Now()
	for {
		m := watcher.Read()
		if m.Kind() == "presence" && m["event"] == "leave" {
			who := m["who"].(map[string]any)
			if who["name"] != "dead" {
				t.Fatalf("left: %v", who)
			}
			t.Logf("dead peer dropped after %v", time.Since(start).Round(time.Millisecond))
			return
		}
	}
}

// TestStreamedGet: a file over Inline arrives as file-start, binary chunks
// and file-end, with the right bytes and sha256, while chat keeps flowing.
func TestStreamedGet(t *testing.T) {
	t.Parallel()
	// 16 MiB: more than the kernel's socket buffers can absorb (tcp_wmem
	// tops out at 4 MiB here), so while the client has not read yet the
	// stream is still under way, and the chat must come before its end.
	body := strings.Repeat("0123456789abcdef", 1<<20)
	th := newTestHub(t, Config{Inline: 1000}, map[string]string{"big.txt": body})
	cl := th.dial(t, "room=s&name=s", false)
	cl.Send(map[string]any{"kind": "get", "id": "g1", "path": "big.txt"})
	cl.Send(map[string]any{"kind": "chat", "text": "during"})
	var got []byte
	var stream float64
	sawChat := false
	for {
		m, bin, err := cl.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch m.Kind() {
		case "file-start":
			stream = m["stream"].(float64)
			if m["id"] != "g1" || m["size"].(float64) != float64(len(body)) {
				t.Fatalf("file-start %v", m)
			}
		case "(binary)":
			if n := binary.BigEndian.Uint32(bin); float64(n) != stream {
				t.Fatalf("chunk of stream %d, want %v", n, stream)
			}
			got = append(got, bin[4:]...)
		case "chat":
			sawChat = true
		case "file-end":
			sum := sha256.Sum256([]byte(body))
			if string(got) != body || m["sha256"] != hex.EncodeToString(sum[:]) || m["id"] != "g1" {
				t.Fatalf("stream: %d bytes, end %v", len(got), m)
			}
			if !sawChat {
				t.Fatal("chat was held back until the stream ended")
			}
			return
		case "error":
			t.Fatalf("error %v", m)
		}
	}
}

// TestStreamFileChanged: a file that changes while it is streamed (grown,
// or cut shorter: a log rotated, a file rewritten with >) ends the stream
// with an error, never with a wrong sha256, and gives its slot back: a
// chunk whose read failed must not be lost, or the stream would wait for it
// forever, holding one of MaxStreams until the session ends.
func TestStreamFileChanged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(path string) error
	}{
		{"grown", func(path string) error {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.WriteString("more")
			return f.Close()
		}},
		{"truncated", func(path string) error { return os.Truncate(path, 1<<20) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := strings.Repeat("z", 16<<20)
			th := newTestHub(t, Config{Inline: 1000, MaxStreams: 1}, map[string]string{"big.bin": body, "small.bin": strings.Repeat("s", 2000)})
			cl := th.dial(t, "room=c&name=c", false)
			cl.Send(map[string]any{"kind": "get", "id": "g", "path": "big.bin"})
			// The pacing holds the stream back while the client does not
			// read: the socket buffers (at most 4 MiB here) take part of
			// the 16 MiB, the rest is unread when the file changes.
			for cl.Read().Kind() != "file-start" {
			}
			if err := tc.change(filepath.Join(th.dir, "big.bin")); err != nil {
				t.Fatal(err)
			}
			for done := false; !done; {
				m, _, err := cl.Next()
				if err != nil {
					t.Fatal(err)
				}
				switch m.Kind() {
				case "file-end":
					t.Fatalf("stream of a changed file ended with %v", m)
				case "error":
					if m["code"] != codeChanged || m["id"] != "g" {
						t.Fatalf("error %v", m)
					}
					done = true
				}
			}
			// The slot is free again: the next download is not refused.
			cl.Send(map[string]any{"kind": "get", "id": "g2", "path": "small.bin"})
			for {
				m, _, err := cl.Next()
				if err != nil {
					t.Fatal(err)
				}
				switch m.Kind() {
				case "file-end":
					return
				case "error":
					t.Fatalf("after a changed stream: %v", m)
				}
			}
		})
	}
}

// TestStreamsBounded: more than MaxStreams downloads at once are refused,
// and a session that leaves mid-stream leaves no goroutine or open file.
func TestStreamsBounded(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("y", 4<<20)
	th := newTestHub(t, Config{Inline: 1000, ChunkSize: 4 << 10, MaxStreams: 2}, map[string]string{"big.bin": body})
	cl := th.dial(t, "room=b&name=b", true)
	for i := range 3 {
		cl.Send(map[string]any{"kind": "get", "id": fmt.Sprint("g", i), "path": "big.bin"})
	}
	for {
		m := cl.Read()
		if m.Kind() == "error" {
			if m["code"] != codeRateLimited || m["id"] != "g2" {
				t.Fatalf("error %v", m)
			}
			break
		}
	}
	before := openFiles(t)
	cl.Conn.Close()
	// Every stream goroutine ends and closes its file once the session is gone.
	deadline := time.Now().Add(readTimeout)
	for th.streamCount() > 0 || openFiles(t) >= before {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams, %d open files (had %d)", th.streamCount(), openFiles(t), before)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded by deadline
	}
}

// streamCount counts live stream goroutines across sessions.
func (h *Hub) streamCount() int {
	h.mu.Lock()
	var all []*member
	for _, r := range h.rooms {
		all = append(all, r.snapshot()...)
	}
	h.mu.Unlock()
	n := 0
	for _, mb := range all {
		mb.streamMu.Lock()
		n += len(mb.streams)
		mb.streamMu.Unlock()
	}
	return n
}

// openFiles counts this process's open descriptors of big.bin.
func openFiles(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasSuffix(target, "big.bin") {
			n++
		}
	}
	return n
}

func TestAbortReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		reason string
	}{
		{fmt.Errorf("x: %w (%w)", files.ErrIncomplete, errors.New("i/o timeout")), reasonInterrupted},
		{fmt.Errorf("x: %w", files.ErrExists), reasonExists},
		{fmt.Errorf("x: %w", files.ErrTooLarge), codeTooLarge},
		{fmt.Errorf("x: %w", files.ErrBadRange), codeBadRequest},
		{errors.New("disk on fire"), codeInternal},
	}
	for _, tc := range tests {
		if got := abortReason(tc.err); got != tc.reason {
			t.Errorf("abortReason(%v) = %q, want %q", tc.err, got, tc.reason)
		}
	}
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		code string
	}{
		{fmt.Errorf("x: %w", files.ErrBadPath), codeBadRequest},
		{fmt.Errorf("x: %w", fs.ErrNotExist), codeNotFound},
		{files.ErrForbidden, codeForbidden},
		{files.ErrTooLarge, codeTooLarge},
		{&protoError{code: codeRateLimited, msg: "m"}, codeRateLimited},
		{errors.New("disk on fire"), codeInternal},
	}
	for _, tc := range tests {
		code, msg := errorCode(tc.err)
		if code != tc.code || strings.Contains(msg, "fire") {
			t.Errorf("errorCode(%v) = %s %q, want %s and no detail", tc.err, code, msg, tc.code)
		}
	}
}

func TestDecodeEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, kind, id string
		ok           bool
	}{
		{`{"kind":"get","id":"a"}`, "get", "a", true},
		{`{"kind":"who"}`, "who", "", true},
		{`{"kind":""}`, "", "", false},
		{`{"id":"z"}`, "", "z", false},
		{`{"kind":1,"id":"z"}`, "", "z", false},
		{`[]`, "", "", false},
		{`null`, "", "", false},
		{`{"kind":"get","id":"` + strings.Repeat("x", 65) + `"}`, "", "", false},
	}
	for _, tc := range tests {
		kind, id, err := decodeEnvelope([]byte(tc.in))
		if (err == nil) != tc.ok || kind != tc.kind || id != tc.id {
			t.Errorf("decodeEnvelope(%s) = %q %q %v", tc.in, kind, id, err)
		}
	}
}

// TestPresenceStaysCoalesced: a room that went over the threshold keeps
// sending count frames while joins and leaves go on, even below it, and
// goes back to presence frames once a quiet interval has passed.
func TestPresenceStaysCoalesced(t *testing.T) {
	t.Parallel()
	th := newTestHub(t, Config{PresenceThreshold: 3, PresenceInterval: 200 * time.Millisecond}, nil)
	watcher := th.dial(t, "room=h&name=watcher", false)
	var others []*wsClient
	for i := range 3 { // 4 members: over the threshold
		others = append(others, th.dial(t, fmt.Sprintf("room=h&name=o%d", i), false))
	}
	// Two leave at once: the room is back at 2, under the threshold, but
	// the count frames are under way, so no presence frame tells of them.
	others[0].Conn.Close()
	others[1].Conn.Close()
	left := 0
	for left < 2 {
		m := watcher.Read()
		switch m.Kind() {
		case "presence":
			if m["event"] == "leave" {
				t.Fatalf("a leave during the count frames came as presence: %v", m)
			}
		case "count":
			left += int(m["left"].(float64))
		}
	}
	// Once the count frames have ended, presence frames are back.
	deadline := time.Now().Add(readTimeout)
	for th.pendingPresence("h") {
		if time.Now().After(deadline) {
			t.Fatal("count frames never ended")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded by deadline
	}
	th.dial(t, "room=h&name=late", false)
	for {
		m := watcher.Read()
		if m.Kind() == "presence" && m["event"] == "join" && m["who"].(map[string]any)["name"] == "late" {
			return
		}
		if m.Kind() == "count" && m["joined"].(float64) > 0 {
			t.Fatalf("a join in a quiet small room came as count: %v", m)
		}
	}
}

// TestInvalidUTF8: a text frame that is not UTF-8 closes the session with
// 1007, as RFC 6455 asks.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	th := newTestHub(t, Config{}, nil)
	cl := th.dial(t, "room=u&name=u", false)
	if err := cl.Conn.WriteMessage(websocket.TextMessage, []byte("{\"kind\":\"chat\",\"text\":\"\xff\xfe\"}")); err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := cl.Next()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok || ce.Code != closeInvalidData {
			t.Fatalf("%v, want close 1007", err)
		}
		return
	}
}

// TestSnippet: a snippet reaches the room exactly as typed (markup is text,
// whitespace kept) and stays for later joiners, with the chat.
func TestSnippet(t *testing.T) {
	t.Parallel()
	th := newTestHub(t, Config{}, nil)
	a := th.dial(t, "room=sn&name=a", false)
	b := th.dial(t, "room=sn&name=b", false)
	text := "<script>alert(1)</script>\n\tindented  two spaces\r\n" + strings.Repeat("é", 65536-60)
	a.Send(map[string]any{"kind": "snippet", "text": text, "title": "<b>notes</b>"})
	for _, cl := range []*wsClient{a, b} {
		for {
			m := cl.Read()
			if m.Kind() != "snippet" {
				continue
			}
			if m["text"] != text || m["title"] != "<b>notes</b>" || m["from"].(map[string]any)["name"] != "a" {
				t.Fatalf("snippet %.80v", m)
			}
			break
		}
	}
	a.Send(map[string]any{"kind": "snippet", "id": "big", "text": strings.Repeat("x", 65537)})
	for {
		if m := a.Read(); m.Kind() == "error" {
			if m["code"] != codeTooLarge || m["id"] != "big" {
				t.Fatalf("error %v", m)
			}
			break
		}
	}
	late := th.dial(t, "room=sn&name=late", false)
	_ = late
	th.mu.RLock()
	r := th.rooms["sn"]
	th.mu.RUnlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hist.chat) != 1 || !strings.Contains(string(r.hist.chat[0].frame), `"kind":"snippet"`) {
		t.Fatalf("history holds %d messages", len(r.hist.chat))
	}
}

// TestFolderChanged: a change to the folder reaches every room on the node
// as an fs frame.
func TestFolderChanged(t *testing.T) {
	t.Parallel()
	th := newTestHub(t, Config{}, nil)
	a := th.dial(t, "room=x&name=a", false)
	b := th.dial(t, "room=y&name=b", false)
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	th.FolderChanged(Change{Op: FSAdd, Path: "docs/new.txt", Size: 5, Modified: at}, Change{Op: FSRemove, Path: "old"})
	for _, cl := range []*wsClient{a, b} {
		var got []string
		for len(got) < 2 {
			if m := cl.Read(); m.Kind() == "fs" {
				got = append(got, fmt.Sprint(m["op"], " ", m["path"], " ", m["size"], " ", m["dir"]))
			}
		}
		if got[0] != "add docs/new.txt 5 false" || got[1] != "remove old 0 false" {
			t.Fatalf("fs frames %v", got)
		}
	}
}
