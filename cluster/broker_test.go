package cluster

// The broker alone, against a real NATS server with JetStream in the
// test's process: two Brokers (two nodes) on one server, each attached to
// a recording hub.Node in place of a hub. Synchronised on what the nodes
// are handed, each wait bounded by testutil.Timeout.

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"filehub/hub"
	"filehub/internal/natstest"
	"filehub/internal/testutil"
)

// node is a hub.Node that records what the broker hands it.
type node struct {
	mu   sync.Mutex
	got  []*hub.Message
	more chan struct{} // a token per Deliver
}

func newNode() *node { return &node{more: make(chan struct{}, 1024)} }

func (n *node) Deliver(room string, m *hub.Message) {
	n.mu.Lock()
	n.got = append(n.got, m)
	n.mu.Unlock()
	n.more <- struct{}{}
}

func (n *node) Members(string) []hub.MemberRef { return nil }

// next waits for a message that match accepts, skipping others.
func (n *node) next(t *testing.T, what string, match func(*hub.Message) bool) *hub.Message {
	t.Helper()
	deadline := time.After(testutil.Timeout)
	seen := 0
	for {
		n.mu.Lock()
		for ; seen < len(n.got); seen++ {
			if m := n.got[seen]; match(m) {
				n.mu.Unlock()
				return m
			}
		}
		n.mu.Unlock()
		select {
		case <-n.more:
		case <-deadline:
			t.Fatalf("no %s within %s", what, testutil.Timeout)
		}
	}
}

// connect is a Broker named name on ns, attached to a recording node,
// closed at cleanup.
func connect(t *testing.T, ns *natstest.Server, name string) (*Broker, *node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout)
	defer cancel()
	b, err := Connect(ctx, Config{URL: ns.URL(), Node: name, NodeTTL: 2 * time.Second,
		Logger: testutil.Logger(t, slog.LevelDebug).With("node", name)})
	if err != nil {
		t.Fatal(err)
	}
	n := newNode()
	b.Attach(n)
	t.Cleanup(func() { b.Close() })
	if err := b.Err(); err != nil {
		t.Fatalf("Err after Connect: %v", err)
	}
	return b, n
}

func chatFrame(text string) *hub.Message {
	f, _ := json.Marshal(map[string]string{"kind": "chat", "text": text})
	return &hub.Message{Frame: f, Chat: true}
}

func isChat(text string) func(*hub.Message) bool {
	return func(m *hub.Message) bool {
		var f struct{ Kind, Text string }
		return m.Chat && json.Unmarshal(m.Frame, &f) == nil && f.Kind == "chat" && f.Text == text
	}
}

// TestBrokerChatReachesEveryNode: a chat line published on one node is
// handed to both nodes' members, and kept: a node that opens the room
// later gets it in the room's history, with the same epoch.
func TestBrokerChatReachesEveryNode(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a, na := connect(t, ns, "a")
	b, nb := connect(t, ns, "b")
	ctx := t.Context()
	epochA, err := a.OpenRoom(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	epochB, err := b.OpenRoom(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if epochA == "" || epochA != epochB {
		t.Fatalf("epochs %q and %q, want one, the same", epochA, epochB)
	}
	a.Publish("r", chatFrame("hello"))
	na.next(t, "chat on a", isChat("hello"))
	nb.next(t, "chat on b", isChat("hello"))

	c, nc := connect(t, ns, "c")
	if _, err := c.OpenRoom(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	nc.next(t, "the chat in c's history", isChat("hello"))
}

// TestBrokerNamesAcrossNodes: a name taken on one node is taken on every
// node; the second gets a suffix, and gets the name once the first
// leaves.
func TestBrokerNamesAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a, _ := connect(t, ns, "a")
	b, _ := connect(t, ns, "b")
	ctx := t.Context()
	for _, br := range []*Broker{a, b} {
		if _, err := br.OpenRoom(ctx, "r"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.Join(ctx, "r", "id-a", "ann")
	if err != nil || got != "ann" {
		t.Fatalf("a joins as %q, %v; want ann", got, err)
	}
	got, err = b.Join(ctx, "r", "id-b", "ann")
	if err != nil || got != "ann-2" {
		t.Fatalf("b joins as %q, %v; want ann-2", got, err)
	}
	a.Leave("r", "id-a", "ann")
	// Leave is queued for the broker's writer: the name is free once it
	// is written, which nothing announces to another node's joiner.
	deadline := time.Now().Add(testutil.Timeout)
	for {
		got, err = b.Join(ctx, "r", "id-c", "ann")
		if err != nil {
			t.Fatal(err)
		}
		if got == "ann" {
			break
		}
		b.Leave("r", "id-c", got)
		if time.Now().After(deadline) {
			t.Fatalf("ann still taken %s after a left", testutil.Timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBrokerErrWhenNATSStops: Err says so while the server is away, and
// is nil again once it is back.
func TestBrokerErrWhenNATSStops(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a, _ := connect(t, ns, "a")
	ns.Stop()
	waitErr(t, a, true)
	ns.Restart()
	waitErr(t, a, false)
}

// waitErr waits until a.Err() is an error (or nil): nats.go reports the
// connection's state as it learns it, with no event to wait on here.
func waitErr(t *testing.T, a *Broker, want bool) {
	t.Helper()
	deadline := time.Now().Add(2 * testutil.Timeout)
	for (a.Err() != nil) != want {
		if time.Now().After(deadline) {
			t.Fatalf("Err() = %v, want an error: %v", a.Err(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
