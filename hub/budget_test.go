package hub

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filehub/files"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// dialFrom joins a room from the loopback address ip (127.0.0.x): another
// client address as far as the budgets are concerned.
func (th *testHub) dialFrom(t *testing.T, ip net.IP, query string) *wsClient {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: readTimeout, NetDial: func(network, addr string) (net.Conn, error) {
		return (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).Dial(network, addr)
	}}
	return th.dialWith(t, query, d)
}

// reply reads cl's frames until the one answering id (an error), or
// until cl's own snippet or share comes back (success): "" or the code.
func reply(cl *wsClient, id, kind string) string {
	cl.T.Helper()
	for {
		m := cl.Read()
		switch {
		case m.Kind() == "error" && m["id"] == id:
			return m["code"].(string)
		case m.Kind() == kind:
			by, _ := m["from"].(map[string]any)
			if by == nil {
				by, _ = m["by"].(map[string]any)
			}
			if by["id"] == cl.Welcome.Obj("you").Str("id") {
				return ""
			}
		}
	}
}

// TestSnippetNotEscaped: "<" costs one byte on the wire, not six (issue
// 20, finding 2).
func TestSnippetNotEscaped(t *testing.T) {
	t.Parallel()
	th := newTestHub(t, Config{}, nil)
	a := th.dial(t, "room=esc&name=a", false)
	b := th.dial(t, "room=esc&name=b", false)
	text := strings.Repeat("<", 65536)
	a.Send(map[string]any{"kind": "snippet", "text": text})
	for {
		_ = b.Conn.SetReadDeadline(time.Now().Add(readTimeout))
		_, data, err := b.Conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data[:min(len(data), 40)]), `"snippet"`) {
			continue
		}
		if len(data) > len(text)+512 {
			t.Fatalf("a snippet of %d \"<\" is a frame of %d bytes", len(text), len(data))
		}
		if !strings.Contains(string(data), text) {
			t.Fatal("the snippet's text is not in its frame as sent")
		}
		return
	}
}

// TestContentBudgetPerAddress: sessions of one client address share one
// budget of bytes delivered (frame size times members), across snippets,
// chat and shares; another address has its own (issue 20, findings 2, 3).
func TestContentBudgetPerAddress(t *testing.T) {
	t.Parallel()
	metrics := NewMetrics(prometheus.NewRegistry())
	// Five snippets of 60,000 characters to six members fit, a sixth
	// does not; the buckets barely refill.
	th := newTestHub(t, Config{Metrics: metrics, ContentRate: 1, ContentBurst: 2_000_000,
		RoomContentRate: 1 << 40, RoomContentBurst: 1 << 40}, map[string]string{"small.txt": strings.Repeat("s", 100_000)})
	for i := range 3 {
		th.dial(t, fmt.Sprintf("room=cb&name=r%d", i), false)
	}
	a := th.dial(t, "room=cb&name=a", false)
	b := th.dial(t, "room=cb&name=b", false)
	other := th.dialFrom(t, net.IPv4(127, 0, 0, 3), "room=cb&name=other")
	text := strings.Repeat("x", 60_000)
	var got []string
	for i := range 6 {
		cl := []*wsClient{a, b}[i%2]
		id := fmt.Sprint("s", i)
		cl.Send(map[string]any{"kind": "snippet", "id": id, "text": text})
		got = append(got, reply(cl, id, "snippet"))
	}
	if want := []string{"", "", "", "", "", "rate_limited"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("six snippets from one address across two sessions: %q, want %q", got, want)
	}
	// Spent for shares and chat as well, from either session.
	a.Send(map[string]any{"kind": "share", "id": "sh", "path": "small.txt"})
	if code := reply(a, "sh", "shared"); code != "rate_limited" {
		t.Errorf("share after the budget was spent: %q, want rate_limited", code)
	}
	// About 195 KB are left: seven or so chat lines of 4,000 characters
	// (24 KB or so each, delivered to six), never ten.
	chats := 0
	for ; chats < 10; chats++ {
		id := fmt.Sprint("c", chats)
		b.Send(map[string]any{"kind": "chat", "id": id, "text": strings.Repeat("y", 4000)})
		if code := reply(b, id, "chat"); code == "rate_limited" {
			break
		}
	}
	if chats < 5 || chats > 8 {
		t.Errorf("%d chat lines passed the rest of the budget, want 5 to 8", chats)
	}
	// Another address has its own budget.
	other.Send(map[string]any{"kind": "snippet", "id": "o", "text": text})
	if code := reply(other, "o", "snippet"); code != "" {
		t.Errorf("another address: %q, want it delivered", code)
	}
	if got := testutil.ToFloat64(metrics.ContentRefused.WithLabelValues("address")); got != 3 {
		t.Errorf("content_refused_total{scope=address} = %v, want 3", got)
	}
}

// TestContentBudgetPerRoom: many addresses together cannot flood a room.
func TestContentBudgetPerRoom(t *testing.T) {
	t.Parallel()
	th := newTestHub(t, Config{ContentRate: 1 << 40, ContentBurst: 1 << 40, RoomContentRate: 1, RoomContentBurst: 2_000_000}, nil)
	for i := range 4 {
		th.dial(t, fmt.Sprintf("room=rb&name=r%d", i), false)
	}
	var senders []*wsClient
	for i := range 2 {
		senders = append(senders, th.dialFrom(t, net.IPv4(127, 0, 0, byte(10+i)), fmt.Sprintf("room=rb&name=s%d", i)))
	}
	text := strings.Repeat("x", 60_000)
	var got []string
	for i := range 6 {
		cl := senders[i%2]
		id := fmt.Sprint("s", i)
		cl.Send(map[string]any{"kind": "snippet", "id": id, "text": text})
		got = append(got, reply(cl, id, "snippet"))
	}
	if want := []string{"", "", "", "", "", "rate_limited"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("six snippets from two addresses: %q, want %q", got, want)
	}
	// Another room has its own.
	x := th.dial(t, "room=other&name=x", false)
	x.Send(map[string]any{"kind": "snippet", "id": "x", "text": text})
	if code := reply(x, "x", "snippet"); code != "" {
		t.Errorf("another room: %q", code)
	}
}

// uploadHub is a hub beside a files handler with uploads on, its hooks
// wired as the server wires them: PUT /path?share=1 reaches the room.
func uploadHub(t *testing.T, cfg Config, content map[string]string) *testHub {
	t.Helper()
	dir := t.TempDir()
	for name, body := range content {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store, err := files.Open(dir, files.Config{Uploads: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	h := New(store, cfg)
	fh := files.Handler(store, files.Hooks{OnShare: h.ShareUpload, OnUpload: h.RecordUpload,
		OnUploadProgress: h.RecordUploadProgress, OnUploadAbort: h.RecordUploadAbort})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			h.ServeHTTP(w, r)
			return
		}
		fh.ServeHTTP(w, r)
	}))
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

func (th *testHub) put(t *testing.T, path string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+th.addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestUploadAnnouncementBudget: anonymous uploads are announced within
// their address's budget, each whole or not at all; beyond it they are
// taken and not announced (issue 20, finding 7).
func TestUploadAnnouncementBudget(t *testing.T) {
	t.Parallel()
	metrics := NewMetrics(prometheus.NewRegistry())
	th := uploadHub(t, Config{Metrics: metrics, UploadEvents: 1e-9, UploadEventBurst: 3}, nil)
	w := th.dial(t, "room="+th.cfg.DefaultRoom+"&name=w", false)
	for i := range 10 {
		if resp := th.put(t, fmt.Sprintf("/f%d.txt?share=1", i), strings.NewReader("tiny")); resp.StatusCode != 201 {
			t.Fatalf("PUT %d = %d", i, resp.StatusCode)
		}
	}
	w.Send(map[string]any{"kind": "chat", "text": "end"})
	got := map[string]int{}
	for {
		m := w.Read()
		if m.Kind() == "chat" && m["text"] == "end" {
			break
		}
		k := m.Kind()
		if k == "feed" {
			k += " " + m["event"].(map[string]any)["action"].(string)
		}
		got[k]++
	}
	for _, k := range []string{"shared", "upload-finish", "feed upload", "feed share"} {
		if got[k] != 3 {
			t.Errorf("%d %s frames for 10 uploads, want 3 (the budget): %v", got[k], k, got)
		}
	}
	if n := testutil.ToFloat64(metrics.UploadsUnannounced); n != 7 {
		t.Errorf("uploads_unannounced_total = %v, want 7", n)
	}
	for i := range 10 {
		if _, err := os.Stat(filepath.Join(th.dir, fmt.Sprintf("f%d.txt", i))); err != nil {
			t.Errorf("upload %d: %v", i, err)
		}
	}
}

// TestGrowingSharesLeaveASlot: uploads shared as they arrive that never
// end, from one address, take one stream of each member, never all:
// a member's own get of a large file is served (issue 20, finding 6).
func TestGrowingSharesLeaveASlot(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("b", 3<<20)
	th := uploadHub(t, Config{}, map[string]string{"big.bin": big})
	m := th.dial(t, "room="+th.cfg.DefaultRoom+"&name=m", false)
	var writers []*io.PipeWriter
	for i := range 3 {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		go func() {
			req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("http://%s/never%d.bin?share=1", th.addr, i), pr)
			req.ContentLength = 1 << 30
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		pw.Write([]byte("start"))
	}
	t.Cleanup(func() {
		for _, pw := range writers {
			pw.CloseWithError(io.ErrUnexpectedEOF)
		}
	})
	streams, plain := 0, 0
	for streams+plain < 3 {
		f := m.Read()
		if f.Kind() != "shared" {
			continue
		}
		if _, ok := f["stream"]; ok {
			streams++
		} else {
			plain++
		}
	}
	if streams != 1 {
		t.Errorf("%d uploads from one address followed on streams, want 1", streams)
	}
	m.Send(map[string]any{"kind": "get", "id": "g", "path": "big.bin"})
	for {
		f, _, err := m.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Kind() == "error" && f["id"] == "g" {
			t.Fatalf("get refused: %v", f)
		}
		if f.Kind() == "file-end" && f["id"] == "g" {
			return
		}
	}
}

// TestGrowingShareBudget: the bytes an upload shared as it arrives makes
// the server send its followers come from the uploader's content budget:
// past it the followers' streams end with rate_limited and the upload
// goes on (issue 20, finding 3 for shares as they upload).
func TestGrowingShareBudget(t *testing.T) {
	t.Parallel()
	metrics := NewMetrics(prometheus.NewRegistry())
	th := uploadHub(t, Config{Metrics: metrics, ContentRate: 1, ContentBurst: 1 << 20}, nil)
	var followers []*wsClient
	for i := range 2 {
		followers = append(followers, th.dial(t, fmt.Sprintf("room=%s&name=f%d", th.cfg.DefaultRoom, i), false))
	}
	body := strings.Repeat("z", 4<<20) // 8 MiB to deliver, 1 MiB of budget
	if resp := th.put(t, "/big.bin?share=1", strings.NewReader(body)); resp.StatusCode != 201 {
		t.Fatalf("PUT = %d", resp.StatusCode)
	}
	for i, f := range followers {
		var got int
		for {
			m, data, err := f.Next()
			if err != nil {
				t.Fatalf("follower %d: %v", i, err)
			}
			got += max(0, len(data)-4)
			if m.Kind() == "file-end" {
				t.Fatalf("follower %d got the whole upload: the budget did not hold", i)
			}
			if m.Kind() == "error" && m["stream"] != nil {
				if m["code"] != "rate_limited" {
					t.Fatalf("follower %d: %v", i, m)
				}
				if got > 1<<20 {
					t.Errorf("follower %d got %d bytes past a budget of 1 MiB for two", i, got)
				}
				break
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(th.dir, "big.bin")); err != nil || fi.Size() != int64(len(body)) {
		t.Fatalf("the upload: %v, %v", fi, err)
	}
	if n := testutil.ToFloat64(metrics.ContentRefused.WithLabelValues("address")); n < 1 {
		t.Errorf("content_refused_total{scope=address} = %v", n)
	}
}
