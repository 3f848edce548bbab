package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// Times of a session in a room.
const (
	// handshakeTimeout bounds the WebSocket handshake.
	handshakeTimeout = 10 * time.Second
	// replyTimeout bounds the wait for the answer to a request.
	replyTimeout = 30 * time.Second
	// pingEvery keeps a quiet session's connection known alive, and finds a
	// dead one: a pong must come back within pongWait.
	pingEvery = 20 * time.Second
	pongWait  = 2 * pingEvery
)

// frame is one message of the protocol, as a client reads it: the kind
// and the fields it needs (docs/protocol.md).
type frame struct {
	Kind      string          `json:"kind"`
	ID        string          `json:"id"`
	Epoch     string          `json:"epoch"`
	Recovered *bool           `json:"recovered"`
	Feed      []event         `json:"feed"`
	Event     json.RawMessage `json:"event"` // a feed's event; a presence frame's is a word
	Path      string          `json:"path"`
	Size      int64           `json:"size"`
	URL       string          `json:"url"`
	Stream    int             `json:"stream"`
	Growing   bool            `json:"growing"`
	SHA256    string          `json:"sha256"`
	Code      string          `json:"code"`
	Message   string          `json:"message"`
	Frames    []frame         `json:"frames"`
	By        json.RawMessage `json:"by"`
	You       struct {
		Name string `json:"name"`
	} `json:"you"`
	Room string `json:"room"`
}

// feedEvent is a feed frame's event, nil for any other frame.
func (f frame) feedEvent() *event {
	var ev event
	if f.Kind != "feed" || json.Unmarshal(f.Event, &ev) != nil {
		return nil
	}
	return &ev
}

type event struct {
	Seq    uint64 `json:"seq"`
	Who    string `json:"who"`
	Action string `json:"action"`
	Path   string `json:"path"`
	Via    string `json:"via"`
}

// session is one connection to a room. Its reads are the caller's; its
// writes go through send, one at a time.
type session struct {
	conn    *websocket.Conn
	welcome frame
}

// join dials base's room as name, after since and epoch when given (a
// reconnect), with the client's cookie jar: the upgrade's cookie then
// names the client's HTTP uploads after this member, in this room.
func (e *env) join(ctx context.Context, base *url.URL, room, name string, since uint64, epoch string) (*session, error) {
	if e.http.Jar == nil {
		jar, _ := cookiejar.New(nil)
		e.http.Jar = jar
	}
	u := *base
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[base.Scheme]
	u.Path = base.Path + "/ws"
	q := url.Values{"room": {room}, "name": {name}}
	if since > 0 && epoch != "" {
		q.Set("since", fmt.Sprint(since))
		q.Set("epoch", epoch)
	}
	u.RawQuery = q.Encode()
	hdr := http.Header{}
	if e.token != "" {
		hdr.Set("Authorization", "Bearer "+e.token)
	}
	d := websocket.Dialer{HandshakeTimeout: handshakeTimeout, Jar: e.http.Jar, Proxy: http.ProxyFromEnvironment}
	conn, resp, err := d.DialContext(ctx, u.String(), hdr)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			return nil, fmt.Errorf("join %s: %w", room, statusError(resp))
		}
		return nil, fmt.Errorf("join %s: %w", room, err)
	}
	s := &session{conn: conn}
	conn.SetReadDeadline(time.Now().Add(replyTimeout))
	if err := conn.ReadJSON(&s.welcome); err != nil || s.welcome.Kind != "welcome" {
		conn.Close()
		return nil, fmt.Errorf("join %s: no welcome: %v", room, err)
	}
	conn.SetReadDeadline(time.Time{})
	return s, nil
}

func (s *session) send(v any) error {
	s.conn.SetWriteDeadline(time.Now().Add(replyTimeout))
	return s.conn.WriteJSON(v)
}

// read returns the next message (a batch unpacked), ignoring binary
// frames (stream bytes: the client downloads over HTTP), within deadline.
func (s *session) read(deadline time.Time) ([]frame, error) {
	s.conn.SetReadDeadline(deadline)
	for {
		typ, b, err := s.conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		if typ != websocket.TextMessage {
			continue
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil {
			continue // a kind this client does not know the shape of
		}
		if f.Kind == "batch" {
			return f.Frames, nil
		}
		return []frame{f}, nil
	}
}

// close says goodbye (1000) and closes.
func (s *session) close() {
	s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	s.conn.Close()
}

// share shares the file p with the room and waits for the room's
// "shared" of it, or the error answering the request.
func (s *session) share(p string) error {
	id := "share-" + fmt.Sprint(time.Now().UnixNano())
	if err := s.send(map[string]string{"kind": "share", "path": p, "id": id}); err != nil {
		return err
	}
	deadline := time.Now().Add(replyTimeout)
	for {
		fs, err := s.read(deadline)
		if err != nil {
			return fmt.Errorf("share %s: %w", p, err)
		}
		for _, f := range fs {
			switch {
			case f.Kind == "error" && f.ID == id:
				return fmt.Errorf("share %s: %s", p, f.Message)
			case f.Kind == "shared" && f.Path == p:
				return nil
			}
		}
	}
}

// errClosed is the room closing the session for good (a close code that
// says do not come back as is: a bad request).
var errClosed = errors.New("the server closed the session")
