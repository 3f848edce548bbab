// Package harness runs the whole server for tests, as Caddy's caddytest
// does: server.Run itself on 127.0.0.1:0 serving a t.TempDir() folder and
// logging into the test, and WebSocket clients dialled into its rooms. The
// clients and frames are testutil's, an in-process NATS server natstest's;
// this package adds only what needs the server. Root hub_test.go and the
// tests in e2e/ share it.
package harness

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"filehub/internal/testutil"
	"filehub/server"

	"github.com/gorilla/websocket"
)

// Server is server.Run serving a folder on a loopback port.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT
	Dir  string // the served folder, when started by Start
	Logs *testutil.Log

	t      testing.TB
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// Start runs the server on 127.0.0.1:0 serving dir, logging at debug into
// t, with args after those (a later flag wins), and stops it at cleanup.
func Start(t testing.TB, dir string, args ...string) *Server {
	t.Helper()
	s := StartEnv(t, nil, append([]string{"-addr", "127.0.0.1:0", "-root", dir, "-log-level", "debug"}, args...)...)
	s.Dir = dir
	return s
}

// StartEnv runs the server with exactly these arguments and environment
// variables, logging into t, and stops it at cleanup. It returns once the
// server has printed its address, when it is ready.
func StartEnv(t testing.TB, env map[string]string, args ...string) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	s := &Server{t: t, cancel: cancel, done: make(chan error, 1), Logs: testutil.NewLog(t)}
	go func() {
		s.done <- server.Run(ctx, args, func(k string) string { return env[k] }, AddrWriter(addrs), s.Logs)
	}()
	select {
	case a := <-addrs:
		s.Addr = a
	case err := <-s.done:
		cancel()
		t.Fatalf("server.Run returned before listening: %v", err)
	case <-time.After(testutil.Timeout):
		cancel()
		t.Fatal("server.Run did not start listening")
	}
	s.URL = "http://" + s.Addr
	t.Cleanup(s.Stop) // before the log's own cleanup, registered earlier
	return s
}

// At is a server that the test did not start (a node in a child process)
// listening at addr: Dial and the URLs work, Stop does nothing.
func At(addr string) *Server { return &Server{Addr: addr, URL: "http://" + addr} }

// Cancel cancels Run's context and returns at once: the server begins to
// drain and shut down, as after SIGTERM. Stop waits for it.
func (s *Server) Cancel() {
	if s.cancel != nil {
		s.cancel()
	}
}

// Stop cancels the server's context and waits for Run, which must return
// nil. It may be called from any goroutine, and more than once.
func (s *Server) Stop() {
	if s.done == nil {
		return // At: not ours to stop
	}
	s.once.Do(func() {
		s.cancel()
		select {
		case err := <-s.done:
			if err != nil {
				s.t.Errorf("server.Run returned %v after cancel, want nil", err)
			}
		case <-time.After(30 * time.Second):
			s.t.Error("server.Run did not return within 30 s of cancel")
		}
	})
}

// AddrWriter takes the server's first line on stdout ("filehub serving
// DIR at http://ADDR/") and sends ADDR.
type AddrWriter chan string

func (a AddrWriter) Write(p []byte) (int, error) {
	if i := bytes.Index(p, []byte("://")); i >= 0 {
		rest := string(p[i+len("://"):])
		select {
		case a <- strings.TrimRight(strings.TrimSpace(rest), "/"):
		default:
		}
	}
	return len(p), nil
}

// Dial joins s's room with query (room=…&name=…) and reads the welcome.
func Dial(t testing.TB, s *Server, query string) *testutil.Client {
	t.Helper()
	return DialJar(t, s, query, nil)
}

// DialJar is Dial with a cookie jar, as a browser has: it keeps the
// session cookie of the upgrade response for later HTTP requests.
func DialJar(t testing.TB, s *Server, query string, jar http.CookieJar) *testutil.Client {
	t.Helper()
	return testutil.Dial(t, websocket.Dialer{Jar: jar}, WS(s, query), nil)
}

// DialRaw dials s's /ws without reading anything, for tests of refusals.
func DialRaw(s *Server, query string, header http.Header, jar http.CookieJar) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: testutil.Timeout, Jar: jar}
	return d.Dial(WS(s, query), header)
}

// WS is the URL of s's room endpoint with query.
func WS(s *Server, query string) string { return "ws://" + s.Addr + "/ws?" + query }

// LabFiles are the files of the original lab exercise, with non-ASCII text.
func LabFiles() map[string]string {
	return map[string]string{
		"myfile1.txt": "Hello from myfile1.txt\nline two\n",
		"myserver.py": "import http.server\nprint('serving')\n",
		"README.rst":  "Fichier lisez-moi — Ünïcödé ✓ 日本語\n=====\n",
		"docs/a.md":   "# A\n",
	}
}

// LabDir writes LabFiles into a new temporary folder.
func LabDir(t testing.TB) string {
	t.Helper()
	return testutil.Tree(t, LabFiles())
}

// Get GETs u with c (http.DefaultClient when nil) and reads the whole body.
func Get(t testing.TB, c *http.Client, u string) (*http.Response, []byte) {
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
