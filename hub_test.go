package main

// End-to-end tests of the whole server: run() itself on 127.0.0.1:0 serving
// a t.TempDir(), real gorilla WebSocket clients and real http.Clients. Tests
// synchronise on protocol frames (welcome, the reply carrying an id, a pong
// used as a barrier), never on sleeps; every read has a deadline.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// readTimeout bounds every read in these tests, so a hang fails fast.
const readTimeout = 10 * time.Second

// testServer is run() serving a folder on a loopback port.
type testServer struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT
	Dir  string

	t      *testing.T
	logs   *testLog
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startServer runs run() on 127.0.0.1:0 (or "-addr" given in args) serving
// dir, logging into t, and stops it at cleanup.
func startServer(t *testing.T, dir string, args ...string) *testServer {
	t.Helper()
	s := startServerEnv(t, nil, append([]string{"-addr", "127.0.0.1:0", "-root", dir, "-log-level", "debug"}, args...)...)
	s.Dir = dir
	return s
}

// startServerEnv runs run() with exactly these arguments and environment
// variables, logging into t, and stops it at cleanup.
func startServerEnv(t *testing.T, env map[string]string, all ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	s := &testServer{t: t, cancel: cancel, done: make(chan error, 1)}
	logs := &testLog{t: t}
	s.logs = logs
	t.Cleanup(logs.stop) // runs after s.Stop, registered below
	go func() {
		s.done <- run(ctx, all, func(k string) string { return env[k] }, addrWriter(addrs), logs)
	}()
	select {
	case a := <-addrs:
		s.Addr = a
	case err := <-s.done:
		cancel()
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(readTimeout):
		cancel()
		t.Fatal("run did not start listening")
	}
	s.URL = "http://" + s.Addr
	t.Cleanup(s.Stop)
	return s
}

// Stop cancels run and waits for it; run must return nil. It may be called
// from any goroutine, and more than once.
func (s *testServer) Stop() {
	s.once.Do(func() {
		s.cancel()
		select {
		case err := <-s.done:
			if err != nil {
				s.t.Errorf("run returned %v after cancel, want nil", err)
			}
		case <-time.After(30 * time.Second):
			s.t.Error("run did not return within 30 s of cancel")
		}
	})
}

// addrWriter takes run's first line on stdout and sends the address in it.
type addrWriter chan string

func (a addrWriter) Write(p []byte) (int, error) {
	if i := bytes.Index(p, []byte("://")); i >= 0 {
		rest := string(p[i+len("://"):])
		select {
		case a <- strings.TrimRight(strings.TrimSpace(rest), "/"):
		default:
		}
	}
	return len(p), nil
}

// testLog sends the server's log lines to the test log until the test ends.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
	all  bytes.Buffer // every line, for tests that read the log
}

// text returns everything logged so far.
func (l *testLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

func (l *testLog) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// labFiles are the files of the original lab exercise, with non-ASCII text.
var labFiles = map[string]string{
	"myfile1.txt": "Hello from myfile1.txt\nline two\n",
	"myserver.py": "import http.server\nprint('serving')\n",
	"README.rst":  "Fichier lisez-moi — Ünïcödé ✓ 日本語\n=====\n",
	"docs/a.md":   "# A\n",
}

// labDir writes labFiles into a new temporary folder.
func labDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range labFiles {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// frame is one decoded server message.
type frame map[string]any

func (f frame) str(k string) string  { s, _ := f[k].(string); return s }
func (f frame) num(k string) float64 { n, _ := f[k].(float64); return n }
func (f frame) obj(k string) frame   { o, _ := f[k].(map[string]any); return frame(o) }
func (f frame) kind() string         { return f.str("kind") }

// client is a real gorilla WebSocket client in a room.
type client struct {
	t       *testing.T
	c       *websocket.Conn
	welcome frame
	nextID  int
}

// dial joins ts's room with the given query (room=…&name=…) and reads welcome.
func dial(t *testing.T, ts *testServer, query string) *client {
	t.Helper()
	return dialJar(t, ts, query, nil)
}

// dialJar is dial with a cookie jar, as a browser has: it keeps the
// session cookie of the upgrade response for later HTTP requests.
func dialJar(t *testing.T, ts *testServer, query string, jar http.CookieJar) *client {
	t.Helper()
	c, resp, err := dialRaw(ts, query, nil, jar)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %q: %v (HTTP %d)", query, err, status)
	}
	cl := &client{t: t, c: c}
	t.Cleanup(func() { c.Close() })
	cl.welcome = cl.readKind("welcome")
	return cl
}

func dialRaw(ts *testServer, query string, header http.Header, jar http.CookieJar) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: readTimeout, Jar: jar}
	return d.Dial("ws://"+ts.Addr+"/ws?"+query, header)
}

func (cl *client) name() string { return cl.welcome.obj("you").str("name") }

// send writes v as JSON.
func (cl *client) send(v any) {
	cl.t.Helper()
	if err := cl.c.WriteJSON(v); err != nil {
		cl.t.Fatalf("send: %v", err)
	}
}

// request sends a frame with a fresh id and returns the id.
func (cl *client) request(kind string, fields map[string]any) string {
	cl.t.Helper()
	cl.nextID++
	id := "r" + strconv.Itoa(cl.nextID)
	m := map[string]any{"kind": kind, "id": id}
	for k, v := range fields {
		m[k] = v
	}
	cl.send(m)
	return id
}

// read returns the next message, failing the test after readTimeout.
func (cl *client) read() frame {
	cl.t.Helper()
	f, err := cl.tryRead()
	if err != nil {
		cl.t.Fatalf("read: %v", err)
	}
	return f
}

func (cl *client) tryRead() (frame, error) {
	cl.c.SetReadDeadline(time.Now().Add(readTimeout))
	typ, data, err := cl.c.ReadMessage()
	if err != nil {
		return nil, err
	}
	if typ != websocket.TextMessage {
		return frame{"kind": "(binary)", "len": float64(len(data))}, nil
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("server sent invalid JSON %q: %w", data, err)
	}
	return f, nil
}

// readUntil reads until match, returning the frames skipped on the way.
func (cl *client) readUntil(match func(frame) bool) (frame, []frame) {
	cl.t.Helper()
	var skipped []frame
	for {
		f := cl.read()
		if match(f) {
			return f, skipped
		}
		skipped = append(skipped, f)
	}
}

func (cl *client) readKind(kind string) frame {
	cl.t.Helper()
	f, _ := cl.readUntil(func(f frame) bool { return f.kind() == kind })
	return f
}

// reply reads until the frame answering request id.
func (cl *client) reply(id string) frame {
	cl.t.Helper()
	f, _ := cl.readUntil(func(f frame) bool { return f.str("id") == id })
	return f
}

// barrier pings and returns every frame that arrived before the pong: all
// the server sent this session before it read the ping.
func (cl *client) barrier() []frame {
	cl.t.Helper()
	id := cl.request("ping", nil)
	_, before := cl.readUntil(func(f frame) bool { return f.kind() == "pong" && f.str("id") == id })
	return before
}

// closeCode reads until the connection closes and returns its close code.
func (cl *client) closeCode() int {
	cl.t.Helper()
	for {
		_, err := cl.tryRead()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		cl.t.Fatalf("connection ended without a close frame: %v", err)
	}
}

func httpGet(t *testing.T, c *http.Client, u string) (*http.Response, []byte) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestLabExercise is the original exercise: the three files over HTTP and
// over WebSocket on the same port, and the page that fetches them.
func TestLabExercise(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t))
	cl := dial(t, ts, "name=lab")
	for _, name := range []string{"myfile1.txt", "myserver.py", "README.rst"} {
		t.Run(name, func(t *testing.T) {
			resp, body := httpGet(t, nil, ts.URL+"/"+name)
			if resp.StatusCode != 200 || string(body) != labFiles[name] {
				t.Fatalf("GET /%s = %d %q, want 200 %q", name, resp.StatusCode, body, labFiles[name])
			}
			if name == "myfile1.txt" && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("Content-Type = %q, want text/plain", resp.Header.Get("Content-Type"))
			}
			f := cl.reply(cl.request("get", map[string]any{"path": name}))
			if f.kind() != "file" || f.str("content") != labFiles[name] || f.str("encoding") != "utf-8" || f.str("path") != name {
				t.Fatalf("ws get %s = %v", name, f)
			}
		})
	}
	resp, body := httpGet(t, nil, ts.URL+"/")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("<script")) {
		t.Fatalf("GET / = %d %s, want the page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestRunStartAndStop(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t))
	resp, body := httpGet(t, nil, ts.URL+"/_/healthz")
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("healthz = %d %q", resp.StatusCode, body)
	}
	ts.Stop() // fails the test unless run returned nil
	if _, err := http.Get(ts.URL + "/_/healthz"); err == nil {
		t.Fatal("server still answers after Stop")
	}

	bad := []struct {
		name string
		args []string
	}{
		{"missing root", []string{"-root", filepath.Join(t.TempDir(), "nope")}},
		{"root is a file", []string{"-root", filepath.Join(labDir(t), "myfile1.txt")}},
		{"unknown flag", []string{"-nope"}},
		{"bad size", []string{"-max-upload", "lots"}},
		{"bad address", []string{"-addr", "256.0.0.1:x"}},
		{"stray argument", []string{"somewhere"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, tc.args...),
				func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("run succeeded, want an error")
			}
		})
	}
}

func TestHandshakeValidation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t), "-allow-origin", "https://friend.example")
	tests := []struct {
		name   string
		query  string
		origin string
		want   int
	}{
		{"default room and name", "", "", 101},
		{"same origin", "room=a", ts.URL, 101},
		{"allowed origin", "room=a", "https://friend.example", 101},
		{"cross-site origin", "room=a", "https://evil.example", 403},
		{"null origin", "room=a", "null", 403},
		{"room too long", "room=" + strings.Repeat("r", 65), "", 400},
		{"room with slash", "room=a/b", "", 400},
		{"room with space", "room=a%20b", "", 400},
		{"name too long", "name=" + strings.Repeat("n", 33), "", 400},
		{"name with control", "name=a%07b", "", 400},
		{"name invalid utf-8", "name=%ff", "", 400},
		{"since not a number", "since=abc", "", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			c, resp, err := dialRaw(ts, tc.query, h, nil)
			if c != nil {
				c.Close()
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tc.want, err)
			}
			if tc.want != 101 {
				var body struct {
					Error struct{ Code, Message string }
				}
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error.Code == "" {
					t.Fatalf("refusal body: %v %+v", err, body)
				}
			}
		})
	}
	// A plain GET of /ws is told to upgrade.
	resp, _ := httpGet(t, nil, ts.URL+"/ws")
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET /ws = %d, want 426", resp.StatusCode)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t), "-token", "s3cret")
	tests := []struct {
		name   string
		query  string
		header http.Header
		want   int
	}{
		{"missing", "", nil, 401},
		{"wrong", "token=guess", nil, 401},
		{"query", "token=s3cret", nil, 101},
		{"bearer", "", http.Header{"Authorization": {"Bearer s3cret"}}, 101},
		{"wrong bearer", "", http.Header{"Authorization": {"Bearer s3cre"}}, 401},
		{"cookie", "", http.Header{"Cookie": {"filehub_token=s3cret"}}, 101},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, _ := dialRaw(ts, tc.query, tc.header, nil)
			if c != nil {
				c.Close()
			}
			if resp == nil || resp.StatusCode != tc.want {
				t.Fatalf("got %v, want %d", resp, tc.want)
			}
		})
	}
}

func TestNamesAndPresence(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t))
	a := dial(t, ts, "room=p&name=alice")
	b := dial(t, ts, "room=p&name=alice")
	if a.name() != "alice" || b.name() != "alice-2" {
		t.Fatalf("names %q %q, want alice alice-2", a.name(), b.name())
	}
	if b.welcome.num("count") != 2 || len(b.welcome["members"].([]any)) != 2 || b.welcome.str("room") != "p" {
		t.Fatalf("welcome %v", b.welcome)
	}
	lim := b.welcome.obj("limits")
	if lim.num("inline") != 1<<20 || lim.num("message") != 400<<10 || lim.num("upload") != 0 {
		t.Fatalf("limits %v", lim)
	}
	j, _ := a.readUntil(func(f frame) bool { return f.kind() == "presence" && f.obj("who").str("name") == "alice-2" })
	if j.str("event") != "join" || j.obj("who").str("name") != "alice-2" || j.num("count") != 2 {
		t.Fatalf("join presence %v", j)
	}
	g := dial(t, ts, "room=p")
	if !strings.HasPrefix(g.name(), "guest-") {
		t.Fatalf("default name %q", g.name())
	}
	b.request("rename", map[string]any{"name": "  bob  "})
	r := a.readUntilEvent("rename")
	if r.obj("who").str("name") != "bob" || r.obj("who").str("id") != b.welcome.obj("you").str("id") {
		t.Fatalf("rename presence %v", r)
	}
	w := a.reply(a.request("who", nil))
	if w.kind() != "members" || w.num("count") != 3 {
		t.Fatalf("who = %v", w)
	}
	g.c.Close()
	l := a.readUntilEvent("leave")
	if l.obj("who").str("name") != g.name() || l.num("count") != 2 {
		t.Fatalf("leave presence %v", l)
	}
	p := a.reply(a.request("ping", map[string]any{"t": 12.5, "x": []any{"y"}}))
	if p.kind() != "pong" || p.num("t") != 12.5 || p["x"].([]any)[0] != "y" {
		t.Fatalf("pong %v", p)
	}
}

func (cl *client) readUntilEvent(event string) frame {
	cl.t.Helper()
	f, _ := cl.readUntil(func(f frame) bool { return f.kind() == "presence" && f.str("event") == event })
	return f
}

func TestRoomsAreIsolated(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t))
	a1 := dial(t, ts, "room=a&name=a1")
	a2 := dial(t, ts, "room=a&name=a2")
	b1 := dial(t, ts, "room=b&name=b1")
	a1.request("chat", map[string]any{"text": "for room a"})
	a1.request("share", map[string]any{"path": "myfile1.txt"})
	a1.request("get", map[string]any{"path": "README.rst"})
	a2.readKind("chat")
	a2.readKind("shared")
	f, _ := a2.readUntil(func(f frame) bool { return f.kind() == "feed" && f.obj("event").str("action") == "fetch" })
	if f.obj("event").str("who") != "a1" {
		t.Fatalf("feed %v", f)
	}
	for _, f := range b1.barrier() {
		if !(f.kind() == "presence" && f.obj("who").str("name") == "b1") { // its own join
			t.Errorf("room b received %v from room a", f)
		}
	}
}

func TestPrivateGetAndShare(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t))
	a := dial(t, ts, "room=r&name=alice")
	b := dial(t, ts, "room=r&name=bob")
	a.readUntilEvent("join")

	id := a.request("get", map[string]any{"path": "/docs/a.md"})
	f := a.reply(id)
	if f.kind() != "file" || f.str("content") != "# A\n" || f.str("path") != "docs/a.md" || f.num("size") != 4 || f.str("modified") == "" {
		t.Fatalf("get reply %v", f)
	}
	ev, skipped := b.readUntil(func(f frame) bool { return f.kind() == "feed" })
	for _, s := range skipped {
		if s.kind() == "file" {
			t.Fatalf("bob received alice's private file: %v", s)
		}
	}
	e := ev.obj("event")
	if e.str("who") != "alice" || e.str("action") != "fetch" || e.str("via") != "ws" || e.str("path") != "docs/a.md" || e.num("bytes") != 4 || e.num("seq") == 0 {
		t.Fatalf("feed event %v", e)
	}
	if _, err := time.Parse(time.RFC3339, e.str("at")); err != nil {
		t.Fatalf("at %q: %v", e.str("at"), err)
	}

	a.request("share", map[string]any{"path": "README.rst"})
	for _, cl := range []*client{a, b} {
		s := cl.readKind("shared")
		if s.obj("by").str("name") != "alice" || s.str("content") != labFiles["README.rst"] || s.str("url") != "/README.rst" || s.str("type") == "" {
			t.Fatalf("%s got shared %v", cl.name(), s)
		}
		fe, _ := cl.readUntil(func(f frame) bool { return f.kind() == "feed" && f.obj("event").str("action") == "share" })
		if fe.obj("event").str("path") != "README.rst" {
			t.Fatalf("share feed %v", fe)
		}
	}

	l := a.reply(a.request("list", map[string]any{"path": ""}))
	if l.kind() != "listing" || l.str("path") != "" {
		t.Fatalf("listing %v", l)
	}
	entries := l["entries"].([]any)
	if first := frame(entries[0].(map[string]any)); first.str("name") != "docs" || first["dir"] != true {
		t.Fatalf("folders come first: %v", entries)
	}
}

func TestHTTPFetchesInFeed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t))
	watcher := dial(t, ts, "name=watcher") // default room: anonymous fetches go there

	// Anonymous: a plain client without the session cookie.
	httpGet(t, nil, ts.URL+"/myfile1.txt")
	e := watcher.readKind("feed").obj("event")
	if e.str("who") != "anonymous (127.0.0.1)" || e.str("via") != "http" || e.str("path") != "myfile1.txt" || int(e.num("bytes")) != len(labFiles["myfile1.txt"]) {
		t.Fatalf("anonymous event %v", e)
	}

	// Attributed: the page's cookie, set on the upgrade response, names the
	// session in its own room.
	jar, _ := cookiejar.New(nil)
	carol := dialJar(t, ts, "room=team&name=carol", jar)
	u, _ := url.Parse(ts.URL)
	if len(jar.Cookies(u)) == 0 {
		t.Fatal("the upgrade response set no cookie")
	}
	httpGet(t, &http.Client{Jar: jar}, ts.URL+"/README.rst?download")
	e = carol.readKind("feed").obj("event")
	if e.str("who") != "carol" || e.str("via") != "http" || e.str("path") != "README.rst" {
		t.Fatalf("attributed event %v", e)
	}
	for _, f := range watcher.barrier() {
		if f.kind() == "feed" {
			t.Fatalf("carol's fetch reached the lobby: %v", f)
		}
	}
	// A failed fetch is no event.
	httpGet(t, &http.Client{Jar: jar}, ts.URL+"/missing.txt")
	for _, f := range carol.barrier() {
		if f.kind() == "feed" {
			t.Fatalf("a 404 made an event: %v", f)
		}
	}
}

func TestErrorFrames(t *testing.T) {
	t.Parallel()
	dir := labDir(t)
	if err := os.WriteFile(filepath.Join(dir, ".secret"), []byte("hidden"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, dir)
	cl := dial(t, ts, "name=err")
	tests := []struct {
		name, raw, code string
	}{
		{"not JSON", `{"kind":`, "bad_request"},
		{"array", `["get"]`, "bad_request"},
		{"string", `"get"`, "bad_request"},
		{"missing kind", `{"id":"x1","path":"a"}`, "bad_request"},
		{"number kind", `{"kind":5,"id":"x1"}`, "bad_request"},
		{"id too long", `{"kind":"who","id":"` + strings.Repeat("i", 65) + `"}`, "bad_request"},
		{"number id", `{"kind":"who","id":5}`, "bad_request"},
		{"unknown kind", `{"kind":"dance","id":"x1"}`, "unknown_kind"},
		{"path not a string", `{"kind":"get","id":"x1","path":5}`, "bad_request"},
		{"missing file", `{"kind":"get","id":"x1","path":"nope.txt"}`, "not_found"},
		{"dotfile", `{"kind":"get","id":"x1","path":".secret"}`, "not_found"},
		{"escape", `{"kind":"get","id":"x1","path":"../../etc/passwd"}`, "bad_request"},
		{"share escape", `{"kind":"share","id":"x1","path":"docs/../../x"}`, "bad_request"},
		{"list escape", `{"kind":"list","id":"x1","path":"/.."}`, "bad_request"},
		{"NUL", `{"kind":"get","id":"x1","path":"a\u0000b"}`, "bad_request"},
		{"backslash", `{"kind":"get","id":"x1","path":"..\\x"}`, "bad_request"},
		{"reserved", `{"kind":"get","id":"x1","path":"_/x"}`, "not_found"},
		{"get a folder", `{"kind":"get","id":"x1","path":"docs"}`, "bad_request"},
		{"list a file", `{"kind":"list","id":"x1","path":"myfile1.txt"}`, "not_found"},
		{"empty chat", `{"kind":"chat","id":"x1","text":""}`, "bad_request"},
		{"chat too long", `{"kind":"chat","id":"x1","text":"` + strings.Repeat("é", 4097) + `"}`, "too_large"},
		{"empty rename", `{"kind":"rename","id":"x1","name":"   "}`, "bad_request"},
		{"rename too long", `{"kind":"rename","id":"x1","name":"` + strings.Repeat("n", 33) + `"}`, "bad_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := cl.c.WriteMessage(websocket.TextMessage, []byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			f := cl.readKind("error")
			if f.str("code") != tc.code || f.str("message") == "" {
				t.Fatalf("error %v, want code %s", f, tc.code)
			}
			if strings.Contains(tc.raw, `"id":"x1"`) && f.str("id") != "x1" {
				t.Fatalf("error %v does not carry the request's id", f)
			}
			if strings.Contains(f.str("message"), ts.Dir) {
				t.Fatalf("error leaks the folder: %v", f)
			}
		})
	}
	// Binary frames are refused and the session stays.
	cl.c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if f := cl.readKind("error"); f.str("code") != "bad_request" {
		t.Fatalf("binary frame: %v", f)
	}
	cl.barrier()
}

func TestMessageTooBig(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t))
	cl := dial(t, ts, "name=big")
	cl.send(map[string]any{"kind": "chat", "text": strings.Repeat("x", 400<<10)})
	if code := cl.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close %d, want 1009", code)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t))
	cl := dial(t, ts, "name=flood")
	// One request in flight at a time (thousands a second on loopback):
	// when the server closes, it has read all the client sent, so the close
	// frame is not lost to a TCP reset caused by unread data.
	limited := 0
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("1000 requests and no 1008")
		}
		id := cl.request("ping", nil)
		f, err := cl.tryRead()
		for err == nil && f.str("id") != id {
			f, err = cl.tryRead()
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != websocket.ClosePolicyViolation {
				t.Fatalf("close %d, want 1008", ce.Code)
			}
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if f.kind() == "error" {
			if f.str("code") != "rate_limited" {
				t.Fatalf("error %v", f)
			}
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("closed without any rate_limited error first")
	}
}

func TestShutdownSends1001(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t))
	var clients []*client
	for i := range 5 {
		clients = append(clients, dial(t, ts, fmt.Sprintf("room=r%d", i%2)))
	}
	go ts.Stop()
	for _, cl := range clients {
		if code := cl.closeCode(); code != websocket.CloseGoingAway {
			t.Fatalf("close %d, want 1001", code)
		}
	}
}

// TestHTTPAndWSSamePort checks a raw HTTP/1.1 request and a WebSocket share
// one listener, as the exercise asks.
func TestHTTPAndWSSamePort(t *testing.T) {
	t.Parallel()
	ts := startServer(t, labDir(t))
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /myserver.py HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", ts.Addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != labFiles["myserver.py"] {
		t.Fatalf("body %q", body)
	}
	dial(t, ts, "name=same-port")
}
