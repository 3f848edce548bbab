package testutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Frame is one decoded server message.
type Frame map[string]any

// Str is field k as a string, "" when absent or not one.
func (f Frame) Str(k string) string { s, _ := f[k].(string); return s }

// Num is field k as a number, 0 when absent or not one.
func (f Frame) Num(k string) float64 { n, _ := f[k].(float64); return n }

// Obj is field k as an object, nil when absent or not one.
func (f Frame) Obj(k string) Frame { o, _ := f[k].(map[string]any); return Frame(o) }

// Kind is the frame's kind.
func (f Frame) Kind() string { return f.Str("kind") }

// Client is a real gorilla WebSocket client in a room. Every read has a
// deadline of Timeout.
type Client struct {
	T       testing.TB
	Conn    *websocket.Conn
	Welcome Frame // the first frame the server sent
	nextID  int
}

// Dial joins the room at url (ws://host/ws?room=…&name=…) with d and reads
// the welcome, failing the test if either fails. The connection is closed
// at cleanup.
func Dial(t testing.TB, d websocket.Dialer, url string, header http.Header) *Client {
	t.Helper()
	if d.HandshakeTimeout == 0 {
		d.HandshakeTimeout = Timeout
	}
	c, resp, err := d.Dial(url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { c.Close() })
	cl := &Client{T: t, Conn: c}
	cl.Welcome = cl.ReadKind("welcome")
	return cl
}

// Name is the name the welcome gave this client.
func (cl *Client) Name() string { return cl.Welcome.Obj("you").Str("name") }

// Send writes v as JSON.
func (cl *Client) Send(v any) {
	cl.T.Helper()
	if err := cl.Conn.WriteJSON(v); err != nil {
		cl.T.Fatalf("send: %v", err)
	}
}

// Request sends a frame of kind with a fresh id and the fields, and
// returns the id.
func (cl *Client) Request(kind string, fields map[string]any) string {
	cl.T.Helper()
	cl.nextID++
	id := "r" + strconv.Itoa(cl.nextID)
	m := map[string]any{"kind": kind, "id": id}
	for k, v := range fields {
		m[k] = v
	}
	cl.Send(m)
	return id
}

// Read returns the next message, failing the test after Timeout.
func (cl *Client) Read() Frame {
	cl.T.Helper()
	f, err := cl.TryRead()
	if err != nil {
		cl.T.Fatalf("read: %v", err)
	}
	return f
}

// TryRead returns the next message or the error that ended the read.
func (cl *Client) TryRead() (Frame, error) {
	f, _, err := cl.Next()
	return f, err
}

// Next returns the next message; a binary one is {"kind":"(binary)",
// "len":n} and its payload.
func (cl *Client) Next() (Frame, []byte, error) {
	cl.Conn.SetReadDeadline(time.Now().Add(Timeout))
	typ, data, err := cl.Conn.ReadMessage()
	if err != nil {
		return nil, nil, err
	}
	if typ != websocket.TextMessage {
		return Frame{"kind": "(binary)", "len": float64(len(data))}, data, nil
	}
	var f Frame
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, nil, fmt.Errorf("server sent invalid JSON %q: %w", data, err)
	}
	return f, nil, nil
}

// ReadUntil reads until match, returning the frames skipped on the way.
func (cl *Client) ReadUntil(match func(Frame) bool) (Frame, []Frame) {
	cl.T.Helper()
	var skipped []Frame
	for {
		f := cl.Read()
		if match(f) {
			return f, skipped
		}
		skipped = append(skipped, f)
	}
}

// ReadKind reads until a frame of kind.
func (cl *Client) ReadKind(kind string) Frame {
	cl.T.Helper()
	f, _ := cl.ReadUntil(func(f Frame) bool { return f.Kind() == kind })
	return f
}

// Reply reads until the frame answering request id.
func (cl *Client) Reply(id string) Frame {
	cl.T.Helper()
	f, _ := cl.ReadUntil(func(f Frame) bool { return f.Str("id") == id })
	return f
}

// Barrier pings and returns every frame that arrived before the pong: all
// the server sent this session before it read the ping.
func (cl *Client) Barrier() []Frame {
	cl.T.Helper()
	id := cl.Request("ping", nil)
	_, before := cl.ReadUntil(func(f Frame) bool { return f.Kind() == "pong" && f.Str("id") == id })
	return before
}

// CloseCode reads until the connection closes and returns its close code.
func (cl *Client) CloseCode() int {
	cl.T.Helper()
	for {
		_, err := cl.TryRead()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		cl.T.Fatalf("connection ended without a close frame: %v", err)
	}
}
