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
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"filehub/server"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLabExercise is the original exercise: the three files over HTTP and
// over WebSocket on the same port, and the page that fetches them.
func TestLabExercise(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	cl := harness.Dial(t, ts, "name=lab")
	for _, name := range []string{"myfile1.txt", "myserver.py", "README.rst"} {
		t.Run(name, func(t *testing.T) {
			resp, body := harness.Get(t, nil, ts.URL+"/"+name)
			if resp.StatusCode != 200 || string(body) != harness.LabFiles()[name] {
				t.Fatalf("GET /%s = %d %q, want 200 %q", name, resp.StatusCode, body, harness.LabFiles()[name])
			}
			if name == "myfile1.txt" && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("Content-Type = %q, want text/plain", resp.Header.Get("Content-Type"))
			}
			f := cl.Reply(cl.Request("get", map[string]any{"path": name}))
			if f.Kind() != "file" || f.Str("content") != harness.LabFiles()[name] || f.Str("encoding") != "utf-8" || f.Str("path") != name {
				t.Fatalf("ws get %s = %v", name, f)
			}
		})
	}
	resp, body := harness.Get(t, nil, ts.URL+"/")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("<script")) {
		t.Fatalf("GET / = %d %s, want the page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestRunStartAndStop(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	resp, body := harness.Get(t, nil, ts.URL+"/_/healthz")
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
		{"root is a file", []string{"-root", filepath.Join(harness.LabDir(t), "myfile1.txt")}},
		{"unknown flag", []string{"-nope"}},
		{"bad size", []string{"-max-upload", "lots"}},
		{"bad address", []string{"-addr", "256.0.0.1:x"}},
		{"stray argument", []string{"somewhere"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := server.Run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, tc.args...),
				func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("run succeeded, want an error")
			}
		})
	}
}

func TestHandshakeValidation(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-allow-origin", "https://friend.example")
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
		{"was not a member id", "was=zz", "", 400},
		{"was too long", "was=" + strings.Repeat("a", 17), "", 400},
		{"was a member id", "was=1464d159", "", 101},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			c, resp, err := harness.DialRaw(ts, tc.query, h, nil)
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
	resp, _ := harness.Get(t, nil, ts.URL+"/ws")
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET /ws = %d, want 426", resp.StatusCode)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-token", "s3cret-0123456789ab")
	tests := []struct {
		name   string
		query  string
		header http.Header
		want   int
	}{
		{"missing", "", nil, 401},
		{"wrong", "token=guess", nil, 401},
		{"query", "token=s3cret-0123456789ab", nil, 101},
		{"bearer", "", http.Header{"Authorization": {"Bearer s3cret-0123456789ab"}}, 101},
		{"wrong bearer", "", http.Header{"Authorization": {"Bearer s3cre"}}, 401},
		{"cookie", "", http.Header{"Cookie": {"filehub_token=s3cret-0123456789ab"}}, 101},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, _ := harness.DialRaw(ts, tc.query, tc.header, nil)
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
	ts := harness.Start(t, harness.LabDir(t))
	a := harness.Dial(t, ts, "room=p&name=alice")
	b := harness.Dial(t, ts, "room=p&name=alice")
	if a.Name() != "alice" || b.Name() != "alice-2" {
		t.Fatalf("names %q %q, want alice alice-2", a.Name(), b.Name())
	}
	if b.Welcome.Num("count") != 2 || len(b.Welcome["members"].([]any)) != 2 || b.Welcome.Str("room") != "p" {
		t.Fatalf("welcome %v", b.Welcome)
	}
	lim := b.Welcome.Obj("limits")
	if lim.Num("inline") != 1<<20 || lim.Num("message") != 400<<10 || lim.Num("upload") != 0 {
		t.Fatalf("limits %v", lim)
	}
	j, _ := a.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Obj("who").Str("name") == "alice-2" })
	if j.Str("event") != "join" || j.Obj("who").Str("name") != "alice-2" || j.Num("count") != 2 {
		t.Fatalf("join presence %v", j)
	}
	g := harness.Dial(t, ts, "room=p")
	if !strings.HasPrefix(g.Name(), "guest-") {
		t.Fatalf("default name %q", g.Name())
	}
	b.Request("rename", map[string]any{"name": "  bob  "})
	r := readUntilEvent(a, "rename")
	if r.Obj("who").Str("name") != "bob" || r.Obj("who").Str("id") != b.Welcome.Obj("you").Str("id") {
		t.Fatalf("rename presence %v", r)
	}
	w := a.Reply(a.Request("who", nil))
	if w.Kind() != "members" || w.Num("count") != 3 {
		t.Fatalf("who = %v", w)
	}
	g.Conn.Close()
	l := readUntilEvent(a, "leave")
	if l.Obj("who").Str("name") != g.Name() || l.Num("count") != 2 {
		t.Fatalf("leave presence %v", l)
	}
	p := a.Reply(a.Request("ping", map[string]any{"t": 12.5, "x": []any{"y"}}))
	if p.Kind() != "pong" || p.Num("t") != 12.5 || p["x"].([]any)[0] != "y" {
		t.Fatalf("pong %v", p)
	}
}

// readUntilEvent reads until a presence frame of event.
func readUntilEvent(cl *testutil.Client, event string) testutil.Frame {
	cl.T.Helper()
	f, _ := cl.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Str("event") == event })
	return f
}

func TestRoomsAreIsolated(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	a1 := harness.Dial(t, ts, "room=a&name=a1")
	a2 := harness.Dial(t, ts, "room=a&name=a2")
	b1 := harness.Dial(t, ts, "room=b&name=b1")
	a1.Request("chat", map[string]any{"text": "for room a"})
	a1.Request("share", map[string]any{"path": "myfile1.txt"})
	a1.Request("get", map[string]any{"path": "README.rst"})
	a2.ReadKind("chat")
	a2.ReadKind("shared")
	f, _ := a2.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "feed" && f.Obj("event").Str("action") == "fetch" })
	if f.Obj("event").Str("who") != "a1" {
		t.Fatalf("feed %v", f)
	}
	for _, f := range b1.Barrier() {
		if !(f.Kind() == "presence" && f.Obj("who").Str("name") == "b1") { // its own join
			t.Errorf("room b received %v from room a", f)
		}
	}
}

func TestPrivateGetAndShare(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	a := harness.Dial(t, ts, "room=r&name=alice")
	b := harness.Dial(t, ts, "room=r&name=bob")
	readUntilEvent(a, "join")

	id := a.Request("get", map[string]any{"path": "/docs/a.md"})
	f := a.Reply(id)
	if f.Kind() != "file" || f.Str("content") != "# A\n" || f.Str("path") != "docs/a.md" || f.Num("size") != 4 || f.Str("modified") == "" {
		t.Fatalf("get reply %v", f)
	}
	ev, skipped := b.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "feed" })
	for _, s := range skipped {
		if s.Kind() == "file" {
			t.Fatalf("bob received alice's private file: %v", s)
		}
	}
	e := ev.Obj("event")
	if e.Str("who") != "alice" || e.Str("action") != "fetch" || e.Str("via") != "ws" || e.Str("path") != "docs/a.md" || e.Num("bytes") != 4 || e.Num("seq") == 0 {
		t.Fatalf("feed event %v", e)
	}
	if _, err := time.Parse(time.RFC3339, e.Str("at")); err != nil {
		t.Fatalf("at %q: %v", e.Str("at"), err)
	}

	a.Request("share", map[string]any{"path": "README.rst"})
	for _, cl := range []*testutil.Client{a, b} {
		s := cl.ReadKind("shared")
		if s.Obj("by").Str("name") != "alice" || s.Str("content") != harness.LabFiles()["README.rst"] || s.Str("url") != "/README.rst" || s.Str("type") == "" {
			t.Fatalf("%s got shared %v", cl.Name(), s)
		}
		fe, _ := cl.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "feed" && f.Obj("event").Str("action") == "share" })
		if fe.Obj("event").Str("path") != "README.rst" {
			t.Fatalf("share feed %v", fe)
		}
	}

	l := a.Reply(a.Request("list", map[string]any{"path": ""}))
	if l.Kind() != "listing" || l.Str("path") != "" {
		t.Fatalf("listing %v", l)
	}
	entries := l["entries"].([]any)
	if first := testutil.Frame(entries[0].(map[string]any)); first.Str("name") != "docs" || first["dir"] != true {
		t.Fatalf("folders come first: %v", entries)
	}
}

func TestHTTPFetchesInFeed(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	watcher := harness.Dial(t, ts, "name=watcher") // default room: anonymous fetches go there

	// Anonymous: a plain client without the session cookie.
	harness.Get(t, nil, ts.URL+"/myfile1.txt")
	e := watcher.ReadKind("feed").Obj("event")
	if e.Str("who") != "anonymous (127.0.0.1)" || e.Str("via") != "http" || e.Str("path") != "myfile1.txt" || int(e.Num("bytes")) != len(harness.LabFiles()["myfile1.txt"]) {
		t.Fatalf("anonymous event %v", e)
	}

	// Attributed: the page's cookie, set on the upgrade response, names the
	// session in its own room.
	jar, _ := cookiejar.New(nil)
	carol := harness.DialJar(t, ts, "room=team&name=carol", jar)
	u, _ := url.Parse(ts.URL)
	if len(jar.Cookies(u)) == 0 {
		t.Fatal("the upgrade response set no cookie")
	}
	harness.Get(t, &http.Client{Jar: jar}, ts.URL+"/README.rst?download")
	e = carol.ReadKind("feed").Obj("event")
	if e.Str("who") != "carol" || e.Str("via") != "http" || e.Str("path") != "README.rst" {
		t.Fatalf("attributed event %v", e)
	}
	for _, f := range watcher.Barrier() {
		if f.Kind() == "feed" {
			t.Fatalf("carol's fetch reached the lobby: %v", f)
		}
	}
	// A failed fetch is no event.
	harness.Get(t, &http.Client{Jar: jar}, ts.URL+"/missing.txt")
	for _, f := range carol.Barrier() {
		if f.Kind() == "feed" {
			t.Fatalf("a 404 made an event: %v", f)
		}
	}
}

func TestErrorFrames(t *testing.T) {
	t.Parallel()
	dir := harness.LabDir(t)
	if err := os.WriteFile(filepath.Join(dir, ".secret"), []byte("hidden"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := harness.Start(t, dir)
	cl := harness.Dial(t, ts, "name=err")
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
			if err := cl.Conn.WriteMessage(websocket.TextMessage, []byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			f := cl.ReadKind("error")
			if f.Str("code") != tc.code || f.Str("message") == "" {
				t.Fatalf("error %v, want code %s", f, tc.code)
			}
			if strings.Contains(tc.raw, `"id":"x1"`) && f.Str("id") != "x1" {
				t.Fatalf("error %v does not carry the request's id", f)
			}
			if strings.Contains(f.Str("message"), ts.Dir) {
				t.Fatalf("error leaks the folder: %v", f)
			}
		})
	}
	// Binary frames are refused and the session stays.
	cl.Conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if f := cl.ReadKind("error"); f.Str("code") != "bad_request" {
		t.Fatalf("binary frame: %v", f)
	}
	cl.Barrier()
}

func TestMessageTooBig(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	cl := harness.Dial(t, ts, "name=big")
	cl.Send(map[string]any{"kind": "chat", "text": strings.Repeat("x", 400<<10)})
	if code := cl.CloseCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close %d, want 1009", code)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	cl := harness.Dial(t, ts, "name=flood")
	// One request in flight at a time (thousands a second on loopback):
	// when the server closes, it has read all the client sent, so the close
	// frame is not lost to a TCP reset caused by unread data.
	limited := 0
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("1000 requests and no 1008")
		}
		id := cl.Request("ping", nil)
		f, err := cl.TryRead()
		for err == nil && f.Str("id") != id {
			f, err = cl.TryRead()
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
		if f.Kind() == "error" {
			if f.Str("code") != "rate_limited" {
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
	ts := harness.Start(t, harness.LabDir(t))
	var clients []*testutil.Client
	for i := range 5 {
		clients = append(clients, harness.Dial(t, ts, fmt.Sprintf("room=r%d", i%2)))
	}
	go ts.Stop()
	for _, cl := range clients {
		if code := cl.CloseCode(); code != websocket.CloseGoingAway {
			t.Fatalf("close %d, want 1001", code)
		}
	}
}

// TestHTTPAndWSSamePort checks a raw HTTP/1.1 request and a WebSocket share
// one listener, as the exercise asks.
func TestHTTPAndWSSamePort(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
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
	if string(body) != harness.LabFiles()["myserver.py"] {
		t.Fatalf("body %q", body)
	}
	harness.Dial(t, ts, "name=same-port")
}
