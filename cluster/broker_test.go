package cluster

// The broker alone, against a real NATS server with JetStream in the
// test's process: two Brokers (two nodes) on one server, each attached to
// a recording hub.Node in place of a hub. Synchronised on what the nodes
// are handed, each wait bounded by testutil.Timeout.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filehub/hub"
	"filehub/internal/natstest"
	"filehub/internal/testutil"
)

// node is a hub.Node that records what the broker hands it.
type node struct {
	mu     sync.Mutex
	got    []*hub.Message
	resets []string      // room=epoch, per Reset
	more   chan struct{} // a token per Deliver and Reset
}

func newNode() *node { return &node{more: make(chan struct{}, 1024)} }

func (n *node) Deliver(room string, m *hub.Message) {
	n.mu.Lock()
	n.got = append(n.got, m)
	n.mu.Unlock()
	n.more <- struct{}{}
}

func (n *node) Members(string) []hub.MemberRef { return nil }

func (n *node) Renamed(room, id, name string) {}

func (n *node) Reset(room, epoch string) {
	n.mu.Lock()
	n.resets = append(n.resets, room+"="+epoch)
	n.got = append(n.got, &hub.Message{}) // where it came among the messages
	n.mu.Unlock()
	n.more <- struct{}{}
}

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
	got, err := a.Join(ctx, "r", hub.Joining{ID: "id-a", Name: "ann"})
	if err != nil || got != "ann" {
		t.Fatalf("a joins as %q, %v; want ann", got, err)
	}
	got, err = b.Join(ctx, "r", hub.Joining{ID: "id-b", Name: "ann"})
	if err != nil || got != "ann-2" {
		t.Fatalf("b joins as %q, %v; want ann-2", got, err)
	}
	a.Leave("r", "id-a", "ann")
	// Leave is queued for the broker's writer: the name is free once it
	// is written, which nothing announces to another node's joiner.
	deadline := time.Now().Add(testutil.Timeout)
	for {
		got, err = b.Join(ctx, "r", hub.Joining{ID: "id-c", Name: "ann"})
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

// TestBrokerStoreComesBackEmpty: NATS restarts without its store while a
// room is open on two nodes. Before either says it is ready again, each
// has told its hub that the room starts a new epoch (Reset), and reads the
// new stream from its start: the chat line said during the outage reaches
// both, after the Reset, and so does what is published next; nothing of
// the old stream's positions is in the way.
func TestBrokerStoreComesBackEmpty(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a, na := connect(t, ns, "a")
	b, nb := connect(t, ns, "b")
	ctx := t.Context()
	var old string
	for _, br := range []*Broker{a, b} {
		epoch, err := br.OpenRoom(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		old = epoch
	}
	// Enough history that the new stream's seqs stay below the old ones'.
	for i := range 20 {
		a.Publish("r", chatFrame(fmt.Sprint("before ", i)))
	}
	nb.next(t, "the last line before on b", isChat("before 19"))

	ns.Stop()
	waitErr(t, a, true)
	wipe(t, ns.StoreDir())
	a.Publish("r", chatFrame("during"))
	ns.Restart()
	waitErr(t, a, false)
	waitErr(t, b, false)
	for _, n := range []*node{na, nb} {
		n.mu.Lock()
		resets := slices.Clone(n.resets)
		n.mu.Unlock()
		if len(resets) != 1 || resets[0] == "r="+old || !strings.HasPrefix(resets[0], "r=js") {
			t.Fatalf("resets %v, want one, to a new epoch (was %s)", resets, old)
		}
	}
	b.Publish("r", chatFrame("after"))
	for name, n := range map[string]*node{"a": na, "b": nb} {
		reset := n.next(t, "the reset on "+name, func(m *hub.Message) bool {
			return m.Frame == nil && !m.Chat && m.Event == nil && m.Presence == nil && m.Share == nil
		})
		during := n.next(t, "the line said during the outage on "+name, isChat("during"))
		after := n.next(t, "the line said after on "+name, isChat("after"))
		n.mu.Lock()
		order := slices.Index(n.got, reset) < slices.Index(n.got, during)
		n.mu.Unlock()
		if !order || during.Seq == 0 || after.Seq <= during.Seq {
			t.Fatalf("on %s: reset before the line %v; seqs %d then %d", name, order, during.Seq, after.Seq)
		}
	}
}

// wipe empties a stopped NATS server's store: its disk was lost.
func wipe(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrokerNotReadyWithoutQuorum: on a three-server NATS cluster, a node
// connected to a server whose JetStream lost its quorum (the two others
// down) is not ready within a few seconds, though still connected, and is
// ready again, and takes a join, once the quorum is back.
func TestBrokerNotReadyWithoutQuorum(t *testing.T) {
	t.Parallel()
	servers := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testutil.Timeout)
	defer cancel()
	a, err := Connect(ctx, Config{URL: servers[0].URL(), Node: "a", Replicas: 3, NodeTTL: 2 * time.Second,
		ProbeInterval: 200 * time.Millisecond, ProbeTimeout: time.Second,
		Logger: testutil.Logger(t, slog.LevelDebug).With("node", "a")})
	if err != nil {
		t.Fatal(err)
	}
	a.Attach(newNode())
	t.Cleanup(func() { a.Close() })
	waitErr(t, a, false)

	servers[1].Stop()
	servers[2].Stop()
	lost := time.Now()
	waitErr(t, a, true)
	t.Logf("not ready %v after the quorum was lost: %v", time.Since(lost).Round(time.Millisecond), a.Err())
	if !a.nc.IsConnected() {
		t.Fatal("the test means a node still connected to a server")
	}
	if took := time.Since(lost); took > 5*time.Second {
		t.Errorf("not ready only after %v, want within 5 s", took)
	}

	var wg sync.WaitGroup
	wg.Go(servers[1].Restart)
	wg.Go(servers[2].Restart)
	wg.Wait()
	waitErr(t, a, false)
	// JetStream elects its streams' leaders again for a while after the
	// quorum is back, and may say it is unavailable meanwhile: the probe
	// then says so too. A join made while the node says it is ready
	// succeeds within a few tries, as a page's retries would.
	deadline := time.Now().Add(2 * testutil.Timeout)
	for {
		err := a.Err()
		if err == nil {
			jctx, jcancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err = a.OpenRoom(jctx, "r")
			if err == nil {
				var name string
				if name, err = a.Join(jctx, "r", hub.Joining{ID: "id-a", Name: "ann"}); err == nil && name != "ann" {
					t.Fatalf("joined as %q, want ann", name)
				}
			}
			jcancel()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no join within %v of the quorum's return: %v", 2*testutil.Timeout, err)
		}
		t.Logf("not yet: %v", err)
		time.Sleep(200 * time.Millisecond) // a page's retry, bounded by deadline
	}
}

// TestBrokerConnectWhileClusterForms: a node started while its NATS
// cluster is still forming (one server of three up, no JetStream quorum)
// does not give up at the first timeout: it says so, retries with
// backoff, and connects once the others are up.
func TestBrokerConnectWhileClusterForms(t *testing.T) {
	t.Parallel()
	servers := natstest.NewCluster(t, 3)
	servers[0].Restart()
	logs := testutil.NewLog(t)
	done := make(chan error, 1)
	var a *Broker
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*testutil.Timeout)
		defer cancel()
		var err error
		a, err = Connect(ctx, Config{URL: servers[0].URL(), Node: "a", Replicas: 3,
			Logger: slog.New(slog.NewTextHandler(logs, nil))})
		done <- err
	}()
	// The node is retrying before the cluster can answer it.
	deadline := time.Now().Add(2 * testutil.Timeout)
	for !strings.Contains(logs.Text(), "cluster not ready; retry") {
		if time.Now().After(deadline) {
			t.Fatalf("no retry said: %s", logs.Text())
		}
		time.Sleep(20 * time.Millisecond) // polling the log, bounded by deadline
	}
	var wg sync.WaitGroup
	wg.Go(servers[1].Restart)
	wg.Go(servers[2].Restart)
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatalf("Connect on a cluster that formed meanwhile: %v", err)
	}
	a.Attach(newNode())
	t.Cleanup(func() { a.Close() })
	if !strings.Contains(logs.Text(), "cluster ready") {
		t.Errorf("the node did not say it got through: %s", logs.Text())
	}
}
