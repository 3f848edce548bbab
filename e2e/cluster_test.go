package e2e

// Many nodes, one room: three filehub nodes on loopback, one folder, one
// real NATS server with JetStream started in-process (its store in a
// t.TempDir()), real WebSocket and HTTP clients on each node. One node is
// a child process, killed with SIGKILL when a test needs a node that dies
// without a word.

import (
	"bufio"
	"context"
	"filehub/internal/harness"
	"filehub/internal/natstest"
	"filehub/internal/testutil"
	"filehub/server"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// clusterArgs are a node's flags: quick to declare a dead node dead.
func clusterArgs(ns *natstest.Server, node string) []string {
	return []string{"-nats", ns.URL(), "-node", node, "-nats-node-ttl", "2s"}
}

// seqOf reads the seq of a feed frame.
func seqOf(f testutil.Frame) uint64 { return uint64(f.Obj("event").Num("seq")) }

func TestClusterOneRoom(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	a := harness.Start(t, dir, clusterArgs(ns, "a")...)
	b := harness.Start(t, dir, clusterArgs(ns, "b")...)
	c := harness.Start(t, dir, clusterArgs(ns, "c")...)

	onA := harness.Dial(t, a, "room=all&name=ann")
	onB := harness.Dial(t, b, "room=all&name=ann") // the same name, on another node
	if onB.Name() != "ann-2" {
		t.Fatalf("a second ann on another node is %q, want ann-2", onB.Name())
	}
	onC := harness.Dial(t, c, "room=all&name=cid")
	if n := onC.Welcome.Num("count"); n != 3 {
		t.Fatalf("welcome on c counts %v, want the 3 on all nodes", n)
	}
	// Everyone hears of cid's join.
	for _, cl := range []*testutil.Client{onA, onB} {
		f, _ := cl.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Obj("who").Str("name") == "cid" })
		if f.Str("event") != "join" || f.Num("count") != 3 {
			t.Fatalf("presence %v", f)
		}
	}

	// A share on c reaches every session once, and its feed event has the
	// same seq everywhere.
	onC.Send(map[string]any{"kind": "share", "path": "README.rst"})
	var seqs []uint64
	for _, cl := range []*testutil.Client{onA, onB, onC} {
		// The shared frame and the feed event travel apart (one live, one
		// through the history): either may come first.
		var sh, ev testutil.Frame
		for sh == nil || ev == nil {
			switch f := cl.Read(); f.Kind() {
			case "shared":
				sh = f
			case "feed":
				ev = f
			}
		}
		if sh.Str("path") != "README.rst" || sh.Str("content") != harness.LabFiles()["README.rst"] {
			t.Fatalf("shared %v", sh)
		}
		seqs = append(seqs, seqOf(ev))
	}
	if seqs[0] == 0 || seqs[0] != seqs[1] || seqs[1] != seqs[2] {
		t.Fatalf("one event, seqs %v", seqs)
	}
	// Nothing came twice: a barrier on each, and no second shared or feed.
	for _, cl := range []*testutil.Client{onA, onB, onC} {
		for _, f := range cl.Barrier() {
			if f.Kind() == "shared" || f.Kind() == "feed" {
				t.Fatalf("delivered twice: %v", f)
			}
		}
	}

	// Chat on a reaches b, and a later joiner on b finds it in welcome.
	onA.Send(map[string]any{"kind": "chat", "text": "hello from a"})
	if got := onB.ReadKind("chat").Str("text"); got != "hello from a" {
		t.Fatalf("chat on b: %q", got)
	}
	late := harness.Dial(t, b, "room=all&name=late")
	chat, _ := late.Welcome["chat"].([]any)
	if len(chat) != 1 || testutil.Frame(chat[0].(map[string]any)).Str("text") != "hello from a" {
		t.Fatalf("welcome.chat on b = %v", late.Welcome["chat"])
	}
	if got := feedSeqs(t, late.Welcome); len(got) != 1 || got[0] != seqs[0] {
		t.Fatalf("welcome.feed on b = %v, want [%d]", got, seqs[0])
	}
	// A rename to a name taken on another node gets a suffix, and every
	// node hears of it.
	onA.Send(map[string]any{"kind": "rename", "name": "cid"})
	for _, cl := range []*testutil.Client{onA, onB, onC} {
		f, _ := cl.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Str("event") == "rename" })
		if f.Obj("who").Str("name") != "cid-2" {
			t.Fatalf("rename to a taken name: %v", f)
		}
	}
	if a.Logs.Text() == "" || strings.Contains(a.Logs.Text()+b.Logs.Text()+c.Logs.Text(), "panic") {
		t.Fatal("a node panicked")
	}
}

func TestClusterHTTPAttribution(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	a := harness.Start(t, dir, clusterArgs(ns, "a")...)
	b := harness.Start(t, dir, clusterArgs(ns, "b")...)
	jar, _ := cookiejar.New(nil)
	page := harness.DialJar(t, a, "room=att&name=pat", jar)
	// The page's HTTP fetch lands on b (a load balancer's choice); the
	// cookie the upgrade on a set names it.
	res, err := (&http.Client{Jar: jar}).Get(b.URL + "/myfile1.txt")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	ev := page.ReadKind("feed").Obj("event")
	if ev.Str("who") != "pat" || ev.Str("via") != "http" || ev.Str("path") != "myfile1.txt" {
		t.Fatalf("the fetch on b: %v", ev)
	}
}

// childNode runs a node in a child process (the test binary running
// main()), so that it can die for real; it returns its address and the
// process.
func childNode(t *testing.T, dir string, args ...string) (string, *os.Process) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestMainProcess$", "--", "-addr", "127.0.0.1:0", "-root", dir}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FILEHUB_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, mainEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-lines:
		_, rest, ok := strings.Cut(l, "http://")
		if !ok {
			t.Fatalf("child node said %q", l)
		}
		return strings.TrimSuffix(rest, "/"), cmd.Process
	case <-time.After(20 * time.Second):
		t.Fatal("child node did not start")
	}
	return "", nil
}

// TestClusterNodeDies: a node is killed with SIGKILL. Its page reconnects
// to another node with since and epoch, is told recovered, and gets every
// event it missed; its member leaves the room everywhere within the node
// TTL and a little.
func TestClusterNodeDies(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	a := harness.Start(t, dir, clusterArgs(ns, "a")...)
	addr, proc := childNode(t, dir, clusterArgs(ns, "doomed")...)
	doomed := harness.At(addr)

	watcher := harness.Dial(t, a, "room=d&name=watcher")
	victim := harness.Dial(t, doomed, "room=d&name=victim")
	watcher.ReadKind("presence") // victim's join
	victim.Reply(victim.Request("get", map[string]any{"path": "myfile1.txt"}))
	last := seqOf(victim.ReadKind("feed"))
	epoch := victim.Welcome.Str("epoch")
	// The watcher hears of the victim's get before the kill, so that the
	// next feed event it reads is its own (read late, the victim's event
	// was taken for the one the victim missed).
	for seqOf(watcher.ReadKind("feed")) != last {
	}

	if err := proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// Meanwhile the room goes on.
	watcher.Reply(watcher.Request("get", map[string]any{"path": "README.rst"}))
	missed := seqOf(watcher.ReadKind("feed"))
	// The victim's member leaves, told by the surviving node.
	for {
		f := watcher.Read()
		if f.Kind() == "presence" && f.Str("event") == "leave" && f.Obj("who").Str("name") == "victim" {
			break
		}
	}
	took := time.Since(killed)
	t.Logf("the dead node's member left after %v (node TTL 2s)", took.Round(time.Millisecond))
	if took > 20*time.Second {
		t.Fatalf("left after %v, want within 20 s", took)
	}
	// The page comes back on a, and misses nothing.
	back := harness.Dial(t, a, "room=d&name=victim&since="+strconv.FormatUint(last, 10)+"&epoch="+epoch)
	if got, ok := back.Welcome["recovered"].(bool); !ok || !got {
		t.Fatalf("recovered %v after moving nodes", back.Welcome["recovered"])
	}
	if got := feedSeqs(t, back.Welcome); len(got) != 1 || got[0] != missed {
		t.Fatalf("welcome.feed = %v, want [%d]", got, missed)
	}
	if back.Name() != "victim" {
		t.Fatalf("the dead node's name was not freed: %q", back.Name())
	}
}

// TestClusterNATSRestarts: NATS stops while two nodes serve a room. Each
// node keeps its sessions (and says so at /_/readyz); chat said meanwhile
// waits for the history, and reaches everyone, its sender too, in the
// stream's order once NATS is back; the room works across nodes again,
// and nothing is stored or delivered twice.
func TestClusterNATSRestarts(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	a := harness.Start(t, dir, clusterArgs(ns, "a")...)
	b := harness.Start(t, dir, clusterArgs(ns, "b")...)
	onA := harness.Dial(t, a, "room=r&name=ann")
	onB := harness.Dial(t, b, "room=r&name=bob")
	onA.ReadKind("presence")

	ns.Stop()
	waitReady(t, a, http.StatusServiceUnavailable)
	// Sessions stay; chat waits for the history.
	onA.Send(map[string]any{"kind": "chat", "text": "during"})
	onA.Reply(onA.Request("get", map[string]any{"path": "myfile1.txt"}))

	ns.Restart()
	waitReady(t, a, http.StatusOK)
	waitReady(t, b, http.StatusOK)
	// What was said during the outage reaches both once NATS is back.
	for _, cl := range []*testutil.Client{onA, onB} {
		if got := cl.ReadKind("chat").Str("text"); got != "during" {
			t.Fatalf("chat after the outage: %q", got)
		}
	}
	first := seqOf(onB.ReadKind("feed"))
	onB.Send(map[string]any{"kind": "chat", "text": "after"})
	for _, cl := range []*testutil.Client{onA, onB} {
		if got := cl.ReadKind("chat").Str("text"); got != "after" {
			t.Fatalf("chat after: %q", got)
		}
	}
	// Exactly once: nothing more of either on either side.
	for _, cl := range []*testutil.Client{onA, onB} {
		for _, f := range cl.Barrier() {
			if f.Kind() == "chat" || f.Kind() == "feed" && seqOf(f) == first {
				t.Fatalf("delivered twice: %v", f)
			}
		}
	}
	later := harness.Dial(t, b, "room=r&name=later")
	if got := feedSeqs(t, later.Welcome); len(got) != 1 || got[0] != first {
		t.Fatalf("the event of the outage stored %v, want once as %d", got, first)
	}
}

func waitReady(t *testing.T, ts *harness.Server, want int) {
	t.Helper()
	deadline := time.Now().Add(testutil.Timeout)
	for {
		res, err := http.Get(ts.URL + "/_/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/_/readyz never answered %d", want)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, bounded by deadline
	}
}

// TestClusterUnreachable: with -nats and no NATS there, filehub does not
// start, and says why in one line naming the URL.
func TestClusterUnreachable(t *testing.T) {
	t.Parallel()
	port := testutil.FreePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := server.Run(ctx, []string{"-addr", "127.0.0.1:0", "-root", t.TempDir(), "-nats", url}, func(string) string { return "" }, discard{}, discard{})
	if err == nil || !strings.Contains(err.Error(), url) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("run without NATS: %v", err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestClusterOwnChatKeptOnce: a chat line reaches its own node's members
// at once and comes back from the history later; a later joiner on that
// node finds it once in welcome.chat, not twice.
func TestClusterOwnChatKeptOnce(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	a := harness.Start(t, dir, clusterArgs(ns, "a")...)
	ann := harness.Dial(t, a, "room=once&name=ann")
	ann.Send(map[string]any{"kind": "chat", "text": "said once"})
	ann.ReadKind("chat")
	// The feed event of a get is stored after the chat line and comes back
	// through the history after it: once ann has it, a has had the line
	// back from the history too.
	ann.Reply(ann.Request("get", map[string]any{"path": "myfile1.txt"}))
	ann.ReadKind("feed")
	late := harness.Dial(t, a, "room=once&name=late")
	chat, _ := late.Welcome["chat"].([]any)
	if len(chat) != 1 {
		t.Fatalf("welcome.chat on the node that said it = %v, want the line once", late.Welcome["chat"])
	}
}

// TestClusterChatBurst: three nodes chatting at once, far more lines than
// the stream keeps per room (-nats-history 50): every member on every node
// gets every line exactly once, all in one order (the stream's), each
// with a seq that grows.
func TestClusterChatBurst(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	const lines = 60
	args := func(node string) []string {
		return append(clusterArgs(ns, node), "-nats-history", "50", "-rate", "1000")
	}
	nodes := []*harness.Server{harness.Start(t, dir, args("a")...), harness.Start(t, dir, args("b")...), harness.Start(t, dir, args("c")...)}
	var talkers []*testutil.Client
	for i, n := range nodes {
		talkers = append(talkers, harness.Dial(t, n, fmt.Sprintf("room=burst&name=t%d", i)))
	}
	// Everyone is in before the burst: the last joiner's presence reached
	// the first two.
	for _, cl := range talkers[:2] {
		cl.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Obj("who").Str("name") == "t2" })
	}
	var wg sync.WaitGroup
	for i, cl := range talkers {
		wg.Go(func() {
			for j := range lines {
				cl.Send(map[string]any{"kind": "chat", "text": fmt.Sprintf("%d:%d", i, j)})
			}
		})
	}
	wg.Wait()
	var first []string // the order t0 saw
	for k, cl := range talkers {
		seen := map[string]bool{}
		var order []string
		var last float64
		for len(seen) < lines*len(talkers) {
			f := cl.Read()
			if f.Kind() == "error" {
				t.Fatalf("t%d: %v", k, f)
			}
			if f.Kind() != "chat" {
				continue
			}
			if seen[f.Str("text")] {
				t.Fatalf("t%d: line %s twice", k, f.Str("text"))
			}
			if f.Num("seq") <= last {
				t.Fatalf("t%d: seq %v after %v", k, f["seq"], last)
			}
			last = f.Num("seq")
			seen[f.Str("text")] = true
			order = append(order, f.Str("text"))
		}
		if first == nil {
			first = order
		} else if !slices.Equal(order, first) {
			t.Fatalf("t%d saw another order than t0:\n%v\n%v", k, order, first)
		}
		for _, f := range cl.Barrier() {
			if f.Kind() == "chat" {
				t.Fatalf("t%d: a line more: %v", k, f)
			}
		}
	}
}

// TestClusterNodeComesBack: a node that stops answering for longer than
// the node TTL (a frozen VM, a long pause) has its key expire and its
// members deleted by the others, though its sessions are still open. When
// it comes back it registers them again: the others see them join again,
// and their names stay theirs.
func TestClusterNodeComesBack(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	a := harness.Start(t, dir, clusterArgs(ns, "a")...)
	b := harness.Start(t, dir, clusterArgs(ns, "b")...)
	bob := harness.Dial(t, b, "room=back&name=bob")
	harness.Dial(t, a, "room=back&name=ann")
	bob.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Obj("who").Str("name") == "ann" })

	// What the others see when a's key expires: it is gone.
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout)
	defer cancel()
	kv, err := js.KeyValue(ctx, "FILEHUB_NODES")
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	left, _ := bob.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Obj("who").Str("name") == "ann" })
	if left.Str("event") != "leave" {
		t.Fatalf("presence %v, want ann's leave", left)
	}
	back, _ := bob.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Obj("who").Str("name") == "ann" })
	if back.Str("event") != "join" || back.Num("count") != 2 {
		t.Fatalf("presence %v, want ann back, 2 in the room", back)
	}
	if other := harness.Dial(t, b, "room=back&name=ann"); other.Name() != "ann-2" {
		t.Fatalf("a second ann is %q while ann is still there, want ann-2", other.Name())
	}
}

// TestClusterNATSLosesItsStore: NATS comes back with an empty store (a
// lost disk) while a room is open on two nodes. The stream and buckets are
// made again, and before a node says it is ready the rooms open on it move
// to the new stream: their pages are closed with 1013, come back, and are
// told they missed something (a new epoch); the chat line said during the
// outage is in the room; feed events and chat reach every node again at
// once, not once the new stream's seqs pass the old ones.
func TestClusterNATSLosesItsStore(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	a := harness.Start(t, dir, clusterArgs(ns, "a")...)
	b := harness.Start(t, dir, clusterArgs(ns, "b")...)
	ann := harness.Dial(t, a, "room=lost&name=ann")
	bob := harness.Dial(t, b, "room=lost&name=bob")
	ann.ReadKind("presence")
	// History enough that the new stream's seqs stay below the old ones'.
	for range 10 {
		ann.Reply(ann.Request("get", map[string]any{"path": "myfile1.txt"}))
	}
	var last uint64
	for range 10 {
		last = seqOf(bob.ReadKind("feed"))
	}
	epoch := bob.Welcome.Str("epoch")

	ns.Stop()
	waitReady(t, a, http.StatusServiceUnavailable)
	wipeStore(t, ns.StoreDir())
	ann.Send(map[string]any{"kind": "chat", "text": "during"})
	ns.Restart()
	waitReady(t, a, http.StatusOK)
	waitReady(t, b, http.StatusOK)
	for _, cl := range []*testutil.Client{ann, bob} {
		if code := cl.CloseCode(); code != 1013 {
			t.Fatalf("%s closed with %d after the history was lost, want 1013", cl.Name(), code)
		}
	}
	back := harness.Dial(t, b, "room=lost&name=bob&since="+strconv.FormatUint(last, 10)+"&epoch="+epoch)
	if back.Welcome.Str("epoch") == epoch {
		t.Fatalf("the same epoch %q after the history was lost", epoch)
	}
	if got, ok := back.Welcome["recovered"].(bool); !ok || got {
		t.Fatalf("recovered %v after the history was lost", back.Welcome["recovered"])
	}
	annBack := harness.Dial(t, a, "room=lost&name=ann")
	for _, cl := range []*testutil.Client{back, annBack} {
		if got := chatTexts(t, cl.Welcome); len(got) != 1 || got[0] != "chat:during" {
			// It may still be on its way from a's writer: then it comes live.
			if f := cl.ReadKind("chat"); f.Str("text") != "during" {
				t.Fatalf("%s: the line said during the outage: %v, then %v", cl.Name(), got, f)
			}
		}
	}
	// Feed events and chat flow across nodes in the new stream at once.
	annBack.Reply(annBack.Request("get", map[string]any{"path": "README.rst"}))
	if ev := back.ReadKind("feed").Obj("event"); ev.Str("path") != "README.rst" {
		t.Fatalf("the fetch on b: %v", ev)
	}
	back.Send(map[string]any{"kind": "chat", "text": "still one room"})
	if got := annBack.ReadKind("chat").Str("text"); got != "still one room" {
		t.Fatalf("chat from b on a: %q", got)
	}
}

// wipeStore empties a stopped NATS server's store: its disk was lost.
func wipeStore(t *testing.T, dir string) {
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

// TestClusterSameNodeName: a second node started under a running node's
// name takes the name over; the first stops claiming it and answers
// /_/readyz 503, rather than the two taking the key from each other, and
// every node taking each in turn for gone, without end.
func TestClusterSameNodeName(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	first := harness.Start(t, dir, clusterArgs(ns, "twin")...)
	b := harness.Start(t, dir, clusterArgs(ns, "b")...)
	harness.Dial(t, first, "room=twins&name=ann")
	second := harness.Start(t, dir, clusterArgs(ns, "twin")...)
	waitReady(t, first, http.StatusServiceUnavailable)
	waitReady(t, second, http.StatusOK)
	waitReady(t, b, http.StatusOK)
	if !strings.Contains(first.Logs.Text(), "node name taken by another instance") {
		t.Fatal("the displaced node did not say why")
	}
}

// TestClusterReadyMeansJoinable: once a node says at /_/readyz that it is
// ready again after NATS came back, it is: the join that follows is let in
// and readyz does not go back to 503. (It did, for the moment between
// nats.go reconnecting and its reconnect callback running on another
// goroutine; a load balancer sent a page there and it was refused.)
func TestClusterReadyMeansJoinable(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a := harness.Start(t, harness.LabDir(t), clusterArgs(ns, "a")...)
	onA := harness.Dial(t, a, "room=r&name=ann")
	for round := range 4 {
		ns.Stop()
		waitReady(t, a, http.StatusServiceUnavailable)
		// What is said meanwhile waits in the connection's buffer, and is
		// flushed on reconnecting: the moment this test is about.
		for i := range 20 {
			onA.Send(map[string]any{"kind": "chat", "text": fmt.Sprintf("%d.%d", round, i)})
		}
		ns.Restart()
		var seen []int // readyz answers from NATS coming back on, in order
		ready := 0
		deadline := time.Now().Add(testutil.Timeout)
		for ready < 200 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: readyz answered %v", round, seen)
			}
			res, err := http.Get(a.URL + "/_/readyz")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if len(seen) == 0 || seen[len(seen)-1] != res.StatusCode {
				seen = append(seen, res.StatusCode)
			}
			if res.StatusCode == http.StatusOK {
				if ready == 0 {
					harness.Dial(t, a, "room=r&name=r"+strconv.Itoa(round)).Conn.Close()
				}
				ready++
			} else if ready > 0 {
				t.Fatalf("round %d: readyz answered %v", round, seen)
			}
			if len(seen) > 2 {
				t.Fatalf("round %d: readyz answered %v", round, seen)
			}
		}
	}
}

// whoNames asks cl's node who is in its room: the count and the sorted
// names.
func whoNames(cl *testutil.Client) (int, []string) {
	f := cl.Reply(cl.Request("who", nil))
	var names []string
	for _, m := range f["members"].([]any) {
		names = append(names, testutil.Frame(m.(map[string]any)).Str("name"))
	}
	slices.Sort(names)
	return int(f.Num("count")), names
}

// TestClusterPausedNodeNameTaken: node a is paused (SIGSTOP) for longer
// than the node TTL: the others take it for gone and let its member a1
// go, and a new page takes the name a1 on b. When a comes back (SIGCONT)
// the name stays with whoever holds it in the cluster's bucket, the same
// for every node: a's member becomes a1-2 and its page is told; every
// node counts both, and nobody is invisible.
func TestClusterPausedNodeNameTaken(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	b := harness.Start(t, dir, clusterArgs(ns, "b")...)
	addr, proc := childNode(t, dir, clusterArgs(ns, "a")...)
	a := harness.At(addr)
	watcher := harness.Dial(t, b, "room=p&name=watcher")
	paused := harness.Dial(t, a, "room=p&name=a1")
	watcher.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Obj("who").Str("name") == "a1" })

	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			proc.Signal(syscall.SIGCONT)
		}
	}()
	watcher.ReadUntil(func(f testutil.Frame) bool {
		return f.Kind() == "presence" && f.Str("event") == "leave" && f.Obj("who").Str("name") == "a1"
	})
	taker := harness.Dial(t, b, "room=p&name=a1")
	if taker.Name() != "a1" {
		t.Fatalf("the new page on b is %q, want a1 (the paused node's member was let go)", taker.Name())
	}
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	// The paused page is told its new name.
	paused.ReadUntil(func(f testutil.Frame) bool {
		return f.Kind() == "presence" && f.Str("event") == "rename" && f.Obj("who").Str("id") == paused.Welcome.Obj("you").Str("id") &&
			f.Obj("who").Str("name") == "a1-2"
	})
	// Every node agrees, once the rename has reached b.
	watcher.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Obj("who").Str("name") == "a1-2" })
	for _, cl := range []*testutil.Client{watcher, paused} {
		count, names := whoNames(cl)
		if count != 3 || fmt.Sprint(names) != "[a1 a1-2 watcher]" {
			t.Fatalf("who on %s's node: %d %v, want 3 [a1 a1-2 watcher]", cl.Name(), count, names)
		}
	}
	// The one that took the name leaves: the other two remain everywhere.
	taker.Conn.Close()
	watcher.ReadUntil(func(f testutil.Frame) bool {
		return f.Kind() == "presence" && f.Str("event") == "leave" && f.Obj("who").Str("name") == "a1"
	})
	paused.ReadUntil(func(f testutil.Frame) bool {
		return f.Kind() == "presence" && f.Str("event") == "leave" && f.Obj("who").Str("name") == "a1"
	})
	for _, cl := range []*testutil.Client{watcher, paused} {
		if count, names := whoNames(cl); count != 2 || fmt.Sprint(names) != "[a1-2 watcher]" {
			t.Fatalf("who on %s's node after a1 left: %d %v", cl.Name(), count, names)
		}
	}
}

// TestClusterPageComesBackKeepsName: a page whose node dies comes back to
// another node before the dead node is taken for gone (its member still
// registered). It proves it is the same page (its browser cookie, and the
// member id it had: was) and gets its own name back, not name-2; the room
// counts it once everywhere, also after the dead node's members are let
// go. Another tab of the same browser, not that page, still gets name-2.
func TestClusterPageComesBackKeepsName(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	args := func(node string) []string { return append(clusterArgs(ns, node), "-nats-node-ttl", "4s") }
	a := harness.Start(t, dir, args("a")...)
	addr, proc := childNode(t, dir, args("doomed")...)
	doomed := harness.At(addr)
	jar, _ := cookiejar.New(nil)
	watcher := harness.Dial(t, a, "room=k&name=watcher")
	pat := harness.DialJar(t, doomed, "room=k&name=pat", jar)
	watcher.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "presence" && f.Obj("who").Str("name") == "pat" })
	// The cookie was set for the dead node's address: the same browser
	// asks the other node, on the same host.
	u, _ := url.Parse("http://" + doomed.Addr)
	other, _ := url.Parse("http://" + a.Addr)
	jar.SetCookies(other, jar.Cookies(u))
	was := pat.Welcome.Obj("you").Str("id")

	if err := proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	back := harness.DialJar(t, a, "room=k&name=pat&was="+was, jar)
	if back.Name() != "pat" {
		t.Fatalf("the page came back as %q, want pat", back.Name())
	}
	tab := harness.DialJar(t, a, "room=k&name=pat", jar)
	if tab.Name() != "pat-2" {
		t.Fatalf("another tab of the browser is %q, want pat-2", tab.Name())
	}
	if count, names := whoNames(watcher); count != 3 || fmt.Sprint(names) != "[pat pat-2 watcher]" {
		t.Fatalf("who: %d %v, want 3 [pat pat-2 watcher]", count, names)
	}
	// The dead node is taken for gone: its member is no longer the key's
	// holder, so nothing of the page that came back goes.
	deadline := time.Now().Add(2 * testutil.Timeout)
	for !strings.Contains(a.Logs.Text(), "node gone") {
		if time.Now().After(deadline) {
			t.Fatal("the dead node was never taken for gone")
		}
		time.Sleep(50 * time.Millisecond) // polling the log, bounded by deadline
	}
	watcher.Barrier()
	if count, names := whoNames(watcher); count != 3 || fmt.Sprint(names) != "[pat pat-2 watcher]" {
		t.Fatalf("who after the dead node went: %d %v", count, names)
	}
}
