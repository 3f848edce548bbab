package e2e

// The room remembers: a node alone keeps each room's history on disk (in
// -state-dir), so a restart, SIGTERM or SIGKILL, forgets nothing a member
// was shown, and the pages that were open come back recovered.

import (
	"context"
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"filehub/server"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chatTexts reads the texts (and kinds) of a welcome's chat, checking
// that each carries a seq, in increasing order.
func chatTexts(t *testing.T, w testutil.Frame) []string {
	t.Helper()
	raw, ok := w["chat"].([]any)
	if !ok {
		t.Fatalf("welcome.chat is %T, want an array", w["chat"])
	}
	var out []string
	var last float64
	for _, m := range raw {
		f := testutil.Frame(m.(map[string]any))
		if f.Num("seq") <= last {
			t.Fatalf("welcome.chat: seq %v after %v in %v", f["seq"], last, raw)
		}
		last = f.Num("seq")
		out = append(out, f.Kind()+":"+f.Str("text"))
	}
	return out
}

func since(seq uint64, epoch string) string {
	return "&since=" + strconv.FormatUint(seq, 10) + "&epoch=" + epoch
}

// TestHistoryRestart: chat, a snippet, a share and a fetch, then the
// server stops (as on SIGTERM) and starts again on the same state folder:
// a newcomer sees the room as it was, in the same epoch; a page that was
// open comes back recovered, with nothing repeated; a page that had seen
// less is given exactly what it missed; what happens next has later seqs.
func TestHistoryRestart(t *testing.T) {
	t.Parallel()
	dir, state := harness.LabDir(t), t.TempDir()
	s1 := harness.Start(t, dir, "-state-dir", state)
	ann := harness.Dial(t, s1, "room=h&name=ann")
	pat := harness.Dial(t, s1, "room=h&name=pat")
	epoch := ann.Welcome.Str("epoch")

	ann.Send(map[string]any{"kind": "chat", "text": "hello"})
	chatSeq := uint64(ann.ReadKind("chat").Num("seq"))
	if chatSeq == 0 {
		t.Fatal("a chat line without a seq")
	}
	ann.Send(map[string]any{"kind": "snippet", "text": "go test ./...", "title": "run"})
	ann.ReadKind("snippet")
	ann.Send(map[string]any{"kind": "share", "path": "myfile1.txt"})
	ann.ReadKind("shared")
	share := seqOf(ann.ReadKind("feed"))
	ann.Reply(ann.Request("get", map[string]any{"path": "myserver.py"}))
	fetch := seqOf(ann.ReadKind("feed"))
	// pat saw everything: its last seq is the fetch's.
	pat.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "feed" && seqOf(f) == fetch })

	s1.Stop()
	if code := pat.CloseCode(); code != 1001 {
		t.Fatalf("pat closed with %d, want 1001", code)
	}
	s2 := harness.Start(t, dir, "-state-dir", state)

	late := harness.Dial(t, s2, "room=h&name=late")
	if got := late.Welcome.Str("epoch"); got != epoch {
		t.Fatalf("epoch after a restart %q, want %q", got, epoch)
	}
	if got := strings.Join(chatTexts(t, late.Welcome), "|"); got != "chat:hello|snippet:go test ./..." {
		t.Fatalf("a newcomer's chat after a restart: %s", got)
	}
	if got := feedSeqs(t, late.Welcome); fmt.Sprint(got) != fmt.Sprint([]uint64{share, fetch}) {
		t.Fatalf("a newcomer's feed after a restart: %v, want [%d %d]", got, share, fetch)
	}
	if ev := late.Welcome["feed"].([]any)[0].(map[string]any); ev["action"] != "share" || ev["path"] != "myfile1.txt" {
		t.Fatalf("the share after a restart: %v", ev)
	}

	back := harness.Dial(t, s2, "room=h&name=pat"+since(fetch, epoch))
	if got, ok := back.Welcome["recovered"].(bool); !ok || !got {
		t.Fatalf("pat back: recovered %v, want true", back.Welcome["recovered"])
	}
	if got := feedSeqs(t, back.Welcome); len(got) != 0 {
		t.Fatalf("pat back: feed %v repeats what it saw", got)
	}
	behind := harness.Dial(t, s2, "room=h&name=behind"+since(chatSeq, epoch))
	if got, ok := behind.Welcome["recovered"].(bool); !ok || !got {
		t.Fatalf("a page that saw only the chat line: recovered %v, want true", behind.Welcome["recovered"])
	}
	if got := feedSeqs(t, behind.Welcome); fmt.Sprint(got) != fmt.Sprint([]uint64{share, fetch}) {
		t.Fatalf("a page that saw only the chat line: feed %v, want [%d %d]", got, share, fetch)
	}

	late.Send(map[string]any{"kind": "chat", "text": "after"})
	if got := uint64(late.ReadKind("chat").Num("seq")); got <= fetch {
		t.Fatalf("a seq after the restart %d, not after %d", got, fetch)
	}
}

// TestHistoryKill: a node killed with SIGKILL in the middle of a chat
// loses nothing its members were shown: a newcomer on the node started
// again sees every line, and a page that had seen half comes back
// recovered with the rest.
func TestHistoryKill(t *testing.T) {
	t.Parallel()
	dir, state := harness.LabDir(t), t.TempDir()
	args := []string{"-state-dir", state, "-rate", "1000"}
	addr, proc := childNode(t, dir, args...)
	n1 := harness.At(addr)
	ann := harness.Dial(t, n1, "room=k&name=ann")
	epoch := ann.Welcome.Str("epoch")
	const lines = 40
	var half uint64
	for i := range lines {
		ann.Send(map[string]any{"kind": "chat", "text": strconv.Itoa(i)})
	}
	for i := range lines {
		f := ann.ReadKind("chat")
		if f.Str("text") != strconv.Itoa(i) {
			t.Fatalf("line %d: %v", i, f)
		}
		if i == lines/2-1 {
			half = uint64(f.Num("seq"))
		}
	}
	if err := proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = proc.Wait()

	addr2, _ := childNode(t, dir, args...)
	n2 := harness.At(addr2)
	late := harness.Dial(t, n2, "room=k&name=late")
	got := chatTexts(t, late.Welcome)
	if len(got) != lines || got[0] != "chat:0" || got[lines-1] != "chat:"+strconv.Itoa(lines-1) {
		t.Fatalf("after SIGKILL a newcomer sees %d lines: %v", len(got), got)
	}
	back := harness.Dial(t, n2, "room=k&name=ann"+since(half, epoch))
	if ok, _ := back.Welcome["recovered"].(bool); !ok {
		t.Fatalf("a page back after SIGKILL: recovered %v, want true", back.Welcome["recovered"])
	}
}

// TestHistoryOff: -history=false keeps the history in memory: a restart
// is a new epoch, and a page coming back is told recovered false.
func TestHistoryOff(t *testing.T) {
	t.Parallel()
	dir, state := harness.LabDir(t), t.TempDir()
	s1 := harness.Start(t, dir, "-state-dir", state, "-history=false")
	a := harness.Dial(t, s1, "room=o&name=a")
	a.Send(map[string]any{"kind": "chat", "text": "gone"})
	seq := uint64(a.ReadKind("chat").Num("seq"))
	epoch := a.Welcome.Str("epoch")
	s1.Stop()
	if m, _ := filepath.Glob(filepath.Join(state, "history-*")); len(m) != 0 {
		t.Fatalf("-history=false made %v", m)
	}
	s2 := harness.Start(t, dir, "-state-dir", state, "-history=false")
	b := harness.Dial(t, s2, "room=o&name=a"+since(seq, epoch))
	if b.Welcome.Str("epoch") == epoch || len(chatTexts(t, b.Welcome)) != 0 {
		t.Fatalf("the history outlived a restart with -history=false: %v", b.Welcome)
	}
	if ok, has := b.Welcome["recovered"].(bool); !has || ok {
		t.Fatalf("recovered %v, want false", b.Welcome["recovered"])
	}
}

// TestHistoryInUse: a history file another server holds stops the start
// of a second one on the same folder and state folder, with one line that
// names the file.
func TestHistoryInUse(t *testing.T) {
	t.Parallel()
	dir, state := harness.LabDir(t), t.TempDir()
	harness.Start(t, dir, "-state-dir", state)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := server.Run(ctx, []string{"-addr", "127.0.0.1:0", "-root", dir, "-state-dir", state}, func(string) string { return "" }, discard{}, discard{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(state, "history-")) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("a second server on the same history: %v", err)
	}
}

// TestRecoveryCoversChat: chat is inside recovery. A page away while
// others chat comes back recovered with the lines it missed in
// welcome.chat, each with its seq; away for more lines than the room
// keeps, it is told recovered false.
func TestRecoveryCoversChat(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-rate", "1000")
	talk := harness.Dial(t, ts, "room=c&name=talk")
	talk.Send(map[string]any{"kind": "chat", "text": "seen"})
	seen := uint64(talk.ReadKind("chat").Num("seq"))
	epoch := talk.Welcome.Str("epoch")
	for i := range 5 {
		talk.Send(map[string]any{"kind": "chat", "text": fmt.Sprint("missed ", i)})
	}
	talk.Barrier()
	back := harness.Dial(t, ts, "room=c&name=away"+since(seen, epoch))
	if ok, _ := back.Welcome["recovered"].(bool); !ok {
		t.Fatalf("recovered %v after 5 lines, want true", back.Welcome["recovered"])
	}
	var after []string
	for _, m := range back.Welcome["chat"].([]any) {
		if f := testutil.Frame(m.(map[string]any)); uint64(f.Num("seq")) > seen {
			after = append(after, f.Str("text"))
		}
	}
	if fmt.Sprint(after) != "[missed 0 missed 1 missed 2 missed 3 missed 4]" {
		t.Fatalf("the lines after since: %v", after)
	}
	// More than the room keeps (100 lines): some are gone, and it says so.
	for i := range 120 {
		talk.Send(map[string]any{"kind": "chat", "text": fmt.Sprint("flood ", i)})
	}
	talk.Barrier()
	again := harness.Dial(t, ts, "room=c&name=away2"+since(seen, epoch))
	if ok, has := again.Welcome["recovered"].(bool); !has || ok {
		t.Fatalf("recovered %v after 125 lines, want false", again.Welcome["recovered"])
	}
}
