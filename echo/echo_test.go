package echo_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"filehub/echo"

	"github.com/gorilla/websocket"
)

func dial(t *testing.T) *websocket.Conn {
	t.Helper()
	e := echo.New(echo.Config{})
	srv := httptest.NewServer(e)
	t.Cleanup(func() { e.Close(); srv.Close() })
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestEchoInvalidUTF8 sends a text message that is not UTF-8: the endpoint
// closes with 1007 as /ws does, rather than echoing invalid text back.
func TestEchoInvalidUTF8(t *testing.T) {
	t.Parallel()
	c := dial(t)
	if err := c.WriteMessage(websocket.TextMessage, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "ok" {
		t.Fatalf("echo = %q, %v", msg, err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte{'a', 0xff, 0xfe}); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseInvalidFramePayloadData {
		t.Fatalf("got %q, %v; want close 1007", msg, err)
	}
}

// TestEchoBinaryAnyBytes: binary messages are bytes, not text, and come back
// as sent even when they are not UTF-8.
func TestEchoBinaryAnyBytes(t *testing.T) {
	t.Parallel()
	c := dial(t)
	in := []byte{0xff, 0x00, 0xfe}
	if err := c.WriteMessage(websocket.BinaryMessage, in); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, msg, err := c.ReadMessage()
	if err != nil || typ != websocket.BinaryMessage || string(msg) != string(in) {
		t.Fatalf("echo = %d %q, %v", typ, msg, err)
	}
}
