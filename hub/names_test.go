package hub

import (
	"net/url"
	"testing"

	"github.com/gorilla/websocket"
)

// TestLookalikeMemberNames: names that look alike are one name in a room
// (PRECIS nickname comparison), and names with characters that show as
// nothing are refused before the upgrade (issue 20, finding 10).
func TestLookalikeMemberNames(t *testing.T) {
	t.Parallel()
	th := newTestHub(t, Config{}, nil)
	join := func(name string) string {
		t.Helper()
		cl := th.dialWith(t, "room=n&name="+url.QueryEscape(name), websocket.Dialer{HandshakeTimeout: readTimeout})
		return cl.Name()
	}
	if got := join("alice"); got != "alice" {
		t.Fatalf("alice joined as %q", got)
	}
	for _, tc := range []struct{ name, want string }{
		{"Alice", "Alice-2"},
		{"ａｌｉｃｅ", "alice-3"}, // fullwidth, shown as ASCII
		{"ALICE", "ALICE-4"},
		{"bob\u00a0x", "bob x"}, // NBSP shown as a space
		{"bob x", "bob x-2"},
	} {
		if got := join(tc.name); got != tc.want {
			t.Errorf("%q joined as %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, name := range []string{"alice\u034f", "al\u200bice", "\u3164", "\u115f", "a\u2028b", "\ufeffalice"} {
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+th.addr+"/?room=n&name="+url.QueryEscape(name), nil)
		if err == nil {
			c.Close()
			t.Errorf("%q joined, want 400", name)
			continue
		}
		if resp == nil || resp.StatusCode != 400 {
			t.Errorf("%q: %v %v, want 400", name, resp, err)
		}
	}
	// A rename compares the same way.
	cl := th.dial(t, "room=n&name=carol", false)
	cl.Send(map[string]any{"kind": "rename", "name": "Ａlice"})
	for {
		m := cl.Read()
		if m.Kind() != "presence" {
			continue
		}
		who, _ := m["who"].(map[string]any)
		if who["name"] == "carol" {
			continue
		}
		if who["name"] != "Alice-5" {
			t.Errorf("renamed to %v, want Alice-5", who["name"])
		}
		break
	}
	cl.Send(map[string]any{"kind": "rename", "name": "alice\u034f"})
	for m := cl.Read(); ; m = cl.Read() {
		if m.Kind() == "error" {
			break
		}
	}
}
