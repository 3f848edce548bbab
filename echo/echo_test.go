package echo

// The endpoint behind a real httptest server, real gorilla clients.

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"filehub/internal/testutil"

	"github.com/gorilla/websocket"
)

func serve(t *testing.T, cfg Config) (*Echo, string) {
	t.Helper()
	cfg.Logger = testutil.Logger(t, slog.LevelDebug)
	e := New(cfg)
	srv := httptest.NewServer(e)
	t.Cleanup(func() { e.Close(); srv.Close() })
	return e, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, url string, h http.Header) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testutil.Timeout}
	c, _, err := d.Dial(url, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t *testing.T, c *websocket.Conn) (int, []byte, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testutil.Timeout))
	return c.ReadMessage()
}

func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// TestEchoes: text and binary messages, up to the 1 MiB limit, come back
// as they were sent.
func TestEchoes(t *testing.T) {
	t.Parallel()
	_, url := serve(t, Config{})
	c := dial(t, url, nil)
	big := bytes.Repeat([]byte{0, 1, 2, 255}, maxMessage/4)
	for _, tc := range []struct {
		typ  int
		data []byte
	}{
		{websocket.TextMessage, []byte("hello ✓")},
		{websocket.BinaryMessage, []byte{0, 1, 2}},
		{websocket.BinaryMessage, big},
	} {
		if err := c.WriteMessage(tc.typ, tc.data); err != nil {
			t.Fatal(err)
		}
		typ, got, err := read(t, c)
		if err != nil || typ != tc.typ || !bytes.Equal(got, tc.data) {
			t.Fatalf("echo of %d bytes (type %d): type %d, %d bytes, %v", len(tc.data), tc.typ, typ, len(got), err)
		}
	}
}

// TestRefusals: a cross-site origin gets 403, a plain GET 426, both with
// the refusal body; an over-long message closes the session with 1009.
func TestRefusals(t *testing.T) {
	t.Parallel()
	e, url := serve(t, Config{})
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"cross-site", http.Header{"Origin": {"https://evil.example"}, "Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, http.StatusForbidden},
		{"no upgrade", nil, http.StatusUpgradeRequired},
	} {
		req := httptest.NewRequest("GET", "/_/echo", nil)
		req.Host = "127.0.0.1"
		for k, v := range tc.header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != tc.status || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s: %d %s, want %d and a refusal", tc.name, rec.Code, body, tc.status)
		}
	}
	c := dial(t, url, nil)
	if err := c.WriteMessage(websocket.BinaryMessage, make([]byte, maxMessage+1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := read(t, c); closeCode(err) != websocket.CloseMessageTooBig {
		t.Fatalf("over-long message: %v, want close 1009", err)
	}
}

// TestCloseSaysGoingAway: Close ends open sessions with 1001 and returns
// once they are gone; a handshake after it is refused with 503.
func TestCloseSaysGoingAway(t *testing.T) {
	t.Parallel()
	e, url := serve(t, Config{})
	c := dial(t, url, nil)
	if err := c.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := read(t, c); err != nil { // the session is up
		t.Fatal(err)
	}
	e.Close()
	if _, _, err := read(t, c); closeCode(err) != websocket.CloseGoingAway {
		t.Fatalf("after Close: %v, want close 1001", err)
	}
	d := websocket.Dialer{HandshakeTimeout: testutil.Timeout}
	_, resp, err := d.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake after Close: %v %v, want 503", resp, err)
	}
}

// TestRateLimit: a client that sends faster than echoRate past its burst
// is closed with 1008, even one that reads every echo.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	_, url := serve(t, Config{})
	c := dial(t, url, nil)
	for i := range echoBurst * 2 {
		if err := c.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := read(t, c); err != nil {
			if closeCode(err) != websocket.ClosePolicyViolation || i < echoBurst {
				t.Fatalf("message %d: %v, want close 1008 past %d", i, err, echoBurst)
			}
			return
		}
	}
	t.Fatalf("%d messages at once all echoed, want close 1008 past %d", echoBurst*2, echoBurst)
}

// TestEchoInvalidUTF8: a text message that is not UTF-8 closes with 1007,
// as /ws does, rather than coming back as invalid text (issue 20, finding
// 11). Binary messages are bytes, and come back whatever they hold.
func TestEchoInvalidUTF8(t *testing.T) {
	t.Parallel()
	_, url := serve(t, Config{})
	c := dial(t, url, nil)
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{'a', 0xff}); err != nil {
		t.Fatal(err)
	}
	if typ, got, err := read(t, c); err != nil || typ != websocket.BinaryMessage || string(got) != "a\xff" {
		t.Fatalf("binary echo: %d %q %v", typ, got, err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte{'a', 0xff, 0xfe}); err != nil {
		t.Fatal(err)
	}
	if _, got, err := read(t, c); closeCode(err) != websocket.CloseInvalidFramePayloadData {
		t.Fatalf("got %q, %v; want close 1007", got, err)
	}
}
