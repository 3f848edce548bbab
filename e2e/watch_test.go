//go:build unix

package e2e

// End-to-end tests of the live folder: run() on 127.0.0.1:0, a real
// gorilla client joined with batch=1, and changes made by the test through
// the OS (os.WriteFile, os.Rename, os.RemoveAll), never through filehub.
//
// Absence is proved with barriers, not with waiting (fsClient.drain): the
// watcher settles paths in the order of their last events, so a visible
// file created after the others settles with them or after them; and its
// calls to FolderChanged are sequential, so a second such file, created
// once the first has arrived, comes after everything of the first's call.

import (
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fsWithin bounds the time from a change made through the OS to its fs
// frame at a client.
const fsWithin = time.Second

// fsClient reads a batch=1 client's frames one message at a time, batches
// unpacked, and counts the WebSocket frames that carried fs messages.
type fsClient struct {
	*testutil.Client
	queue     []testutil.Frame
	wsFrames  int // WebSocket frames with at least one fs message
	sentinels int
}

func dialFS(t *testing.T, ts *harness.Server, room string) *fsClient {
	t.Helper()
	return &fsClient{Client: harness.Dial(t, ts, "room="+room+"&name=watcher&batch=1")}
}

// next returns the next message, failing the test after readTimeout.
func (c *fsClient) next() testutil.Frame {
	c.T.Helper()
	for len(c.queue) == 0 {
		f := c.Client.Read()
		msgs := []testutil.Frame{f}
		if f.Kind() == "batch" {
			msgs = msgs[:0]
			list, _ := f["frames"].([]any)
			for _, m := range list {
				sub, _ := m.(map[string]any)
				msgs = append(msgs, testutil.Frame(sub))
			}
		}
		if slices.ContainsFunc(msgs, func(m testutil.Frame) bool { return m.Kind() == "fs" }) {
			c.wsFrames++
		}
		c.queue = msgs
	}
	f := c.queue[0]
	c.queue = c.queue[1:]
	return f
}

// fsUntil returns the fs messages up to and including the one done
// accepts, given every fs message so far.
func (c *fsClient) fsUntil(done func(got []testutil.Frame) bool) []testutil.Frame {
	c.T.Helper()
	var got []testutil.Frame
	for {
		if f := c.next(); f.Kind() == "fs" {
			got = append(got, f)
			if done(got) {
				return got
			}
		}
	}
}

// drain returns every fs message still on its way for changes made before
// it was called, up to two sentinel files of its own that it creates in
// dir, one after the other has arrived. The first settles no sooner than
// those changes (a path settles in the order of its last event), but the
// hub may deliver the rest of its call after it; the second comes in a
// later call, after all of them.
func (c *fsClient) drain(dir string) []testutil.Frame {
	c.T.Helper()
	var got []testutil.Frame
	for range 2 {
		c.sentinels++
		name := fmt.Sprintf("zz-sentinel-%d", c.sentinels)
		testutil.WriteFile(c.T, filepath.Join(dir, name), "")
		got = append(got, c.fsUntil(func(got []testutil.Frame) bool { return got[len(got)-1].Str("path") == name })...)
		got = got[:len(got)-1]
	}
	return got
}

// fsBarrier pings and returns the fs messages that came before the pong:
// everything the room delivered before, for a server that does not watch.
func (c *fsClient) fsBarrier() []testutil.Frame {
	c.T.Helper()
	id := c.Request("ping", nil)
	var got []testutil.Frame
	for {
		f := c.next()
		switch {
		case f.Kind() == "pong" && f.Str("id") == id:
			return got
		case f.Kind() == "fs":
			got = append(got, f)
		}
	}
}

// expect waits for exactly the changes want ("add a.txt", "remove d"),
// in any order, within fsWithin of since, and fails on any other.
func (c *fsClient) expect(since time.Time, want ...string) []testutil.Frame {
	c.T.Helper()
	got := c.fsUntil(func(got []testutil.Frame) bool { return len(got) >= len(want) })
	elapsed := time.Since(since)
	var ops []string
	for _, f := range got {
		ops = append(ops, f.Str("op")+" "+f.Str("path"))
	}
	if !sameSet(ops, want) {
		c.T.Fatalf("fs changes %q, want %q", ops, want)
	}
	if elapsed > fsWithin {
		c.T.Fatalf("%q took %v, want at most %v", want, elapsed, fsWithin)
	}
	c.T.Logf("%q in %v", want, elapsed.Round(time.Millisecond))
	return got
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// byPath finds the change to path among frames.
func byPath(frames []testutil.Frame, op, path string) testutil.Frame {
	for _, f := range frames {
		if f.Str("op") == op && f.Str("path") == path {
			return f
		}
	}
	return nil
}

// TestWatchOSChanges: files and folders created, appended to, renamed and
// removed through the OS reach a page as fs frames, each within a second;
// a new folder is watched, and so is a renamed one.
func TestWatchOSChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "docs", "old.md"), "# old\n")
	ts := harness.Start(t, dir)
	c := dialFS(t, ts, "os")
	in := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }

	start := time.Now()
	testutil.WriteFile(t, in("new.txt"), "hello")
	add := c.expect(start, "add new.txt")[0]
	fi, err := os.Stat(in("new.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if add.Num("size") != 5 || add["dir"] != false || add.Str("modified") != fi.ModTime().UTC().Format(time.RFC3339Nano) {
		t.Fatalf("add %v, want size 5, a file, modified %v", add, fi.ModTime().UTC())
	}

	start = time.Now()
	f, err := os.OpenFile(in("new.txt"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(" world\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if ch := c.expect(start, "change new.txt")[0]; ch.Num("size") != 12 {
		t.Fatalf("change %v, want size 12", ch)
	}

	start = time.Now()
	if err := os.Rename(in("new.txt"), in("renamed.txt")); err != nil {
		t.Fatal(err)
	}
	if got := c.expect(start, "remove new.txt", "add renamed.txt"); byPath(got, "add", "renamed.txt").Num("size") != 12 {
		t.Fatalf("rename: %v", got)
	}

	start = time.Now()
	if err := os.Remove(in("renamed.txt")); err != nil {
		t.Fatal(err)
	}
	c.expect(start, "remove renamed.txt")

	// A new folder, with a file in it before the watcher could watch it;
	// then one more file, which only its watch can report.
	start = time.Now()
	testutil.WriteFile(t, in("sub/inner.txt"), "in")
	if got := c.expect(start, "add sub", "add sub/inner.txt"); byPath(got, "add", "sub")["dir"] != true {
		t.Fatalf("sub is not a folder: %v", got)
	}
	start = time.Now()
	testutil.WriteFile(t, in("sub/second.txt"), "2")
	c.expect(start, "add sub/second.txt")

	start = time.Now()
	testutil.WriteFile(t, in("x/y/z/deep.txt"), "deep")
	c.expect(start, "add x", "add x/y", "add x/y/z", "add x/y/z/deep.txt")

	// A folder renamed: a remove and an add of it and what it holds, and
	// the watch follows it.
	start = time.Now()
	if err := os.Rename(in("docs"), in("docs2")); err != nil {
		t.Fatal(err)
	}
	c.expect(start, "remove docs", "add docs2", "add docs2/old.md")
	start = time.Now()
	testutil.WriteFile(t, in("docs2/new.md"), "new")
	c.expect(start, "add docs2/new.md")
	start = time.Now()
	testutil.WriteFile(t, in("x/y/z/deeper.txt"), "still watched")
	c.expect(start, "add x/y/z/deeper.txt")

	// rm -r: one remove for the folder; the page drops what was in it.
	start = time.Now()
	if err := os.RemoveAll(in("x")); err != nil {
		t.Fatal(err)
	}
	c.expect(start, "remove x")
	if rest := c.drain(dir); len(rest) > 0 {
		t.Fatalf("unexpected fs frames %v", rest)
	}
}

// TestWatchCoalesces: a file written in 64 pieces, a few milliseconds
// apart, is announced at most twice, the last time whole.
func TestWatchCoalesces(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := harness.Start(t, dir)
	c := dialFS(t, ts, "pieces")

	const pieces, piece = 64, 1000
	f, err := os.Create(filepath.Join(dir, "slow.bin"))
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(5 * time.Millisecond) // writing slowly is the point
	for range pieces {
		<-tick.C
		if _, err := f.Write(make([]byte, piece)); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got := c.drain(dir)
	var slow []testutil.Frame
	for _, f := range got {
		if f.Str("path") == "slow.bin" {
			slow = append(slow, f)
		}
	}
	if len(slow) == 0 || len(slow) > 2 {
		t.Fatalf("slow.bin announced %d times, want 1 or 2: %v; all: %v", len(slow), slow, got)
	}
	if last := slow[len(slow)-1]; last.Num("size") != pieces*piece {
		t.Fatalf("last announcement %v, want size %d", last, pieces*piece)
	}
	if slow[0].Str("op") != "add" || (len(slow) == 2 && slow[1].Str("op") != "change") {
		t.Fatalf("ops %v, want add then change", slow)
	}
	t.Logf("%d pieces, %d fs frames for the file", pieces, len(slow))
}

// TestWatchHidden: dotfiles, hidden folders, temp files of uploads,
// reserved names, FIFOs, and symlinks that leave the folder or lead to a
// hidden name are never announced.
func TestWatchHidden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	ts := harness.Start(t, dir)
	c := dialFS(t, ts, "hidden")

	in := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	testutil.WriteFile(t, in(".env"), "SECRET=1")
	testutil.WriteFile(t, in(".hidden/inside.txt"), "x")
	testutil.WriteFile(t, in(".hidden/deeper/more.txt"), "x")
	testutil.WriteFile(t, in(".filehub-tmp-0123456789abcdef"), "half an upload")
	testutil.WriteFile(t, in("sub/.filehub-tmp-feedface"), "half an upload")
	testutil.WriteFile(t, in("_/reserved.txt"), "x")
	testutil.WriteFile(t, in("ws"), "x")
	if err := syscall.Mkfifo(in("pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside.txt")
	testutil.WriteFile(t, outside, "outside")
	for link, to := range map[string]string{"leak": outside, "cfg": ".env", "sub/up": "../.hidden"} {
		if err := os.Symlink(to, in(link)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(in(".env"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("MORE=2\n")
	f.Close()
	if err := os.Rename(in(".filehub-tmp-0123456789abcdef"), in(".filehub-tmp-renamed")); err != nil {
		t.Fatal(err)
	}
	os.Remove(in("sub/.filehub-tmp-feedface"))

	if got := c.drain(dir); len(got) > 0 {
		t.Fatalf("hidden changes announced: %v", got)
	}
}

// TestWatchBurst: 200 files copied in at once reach the page within a
// second, each announced once, in far fewer WebSocket frames than the
// inotify events they caused.
func TestWatchBurst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	ts := harness.Start(t, dir)
	c := dialFS(t, ts, "burst")
	eventsBefore := metric(t, ts, nil, "filehub_watch_events_total")

	const n = 200
	body := strings.Repeat("x", 4096)
	start := time.Now()
	for i := range n {
		testutil.WriteFile(t, filepath.Join(dir, "in", fmt.Sprintf("f%03d.txt", i)), body)
	}
	copied := time.Since(start)
	seen := map[string]int{}
	c.fsUntil(func(got []testutil.Frame) bool {
		f := got[len(got)-1]
		if f.Str("op") != "add" || f.Num("size") != float64(len(body)) {
			t.Fatalf("unexpected %v", f)
		}
		seen[f.Str("path")]++
		return len(seen) == n
	})
	elapsed := time.Since(start)
	events := metric(t, ts, nil, "filehub_watch_events_total") - eventsBefore
	frames := c.wsFrames
	if dup := c.drain(dir); len(dup) > 0 {
		t.Fatalf("announced again: %v", dup)
	}
	t.Logf("%d files copied in %v, all announced %v after the copy began; %.0f inotify events, %d WebSocket frames",
		n, copied.Round(time.Millisecond), elapsed.Round(time.Millisecond), events, frames)
	if elapsed > fsWithin {
		t.Fatalf("the %d files took %v to arrive, want at most %v", n, elapsed, fsWithin)
	}
	// Each file is at least an IN_CREATE and an IN_MODIFY. One or two
	// frames is usual; 20 leaves room for a machine so loaded that the
	// copy spreads over many settle passes.
	if events < 2*n || frames > 20 {
		t.Fatalf("%.0f inotify events became %d WebSocket frames, want at least %d events in at most 20 frames", events, frames, 2*n)
	}
}

// TestWatchFallback: past -watch-limit the folder is rescanned instead,
// changes still arrive, and the log says so once.
func TestWatchFallback(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "sub", "a.txt"), "a")
	ts := harness.StartEnv(t, map[string]string{"FILEHUB_WATCH_LIMIT": "1"},
		"-addr", "127.0.0.1:0", "-root", dir, "-watch-interval", "100ms")
	c := dialFS(t, ts, "rescan")

	start := time.Now()
	testutil.WriteFile(t, filepath.Join(dir, "top.txt"), "top")
	c.expect(start, "add top.txt")
	start = time.Now()
	testutil.WriteFile(t, filepath.Join(dir, "sub", "b.txt"), "b")
	c.expect(start, "add sub/b.txt")
	start = time.Now()
	if err := os.RemoveAll(filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	c.expect(start, "remove sub")

	if n := strings.Count(ts.Logs.Text(), "rescanning the folder instead"); n != 1 {
		t.Fatalf("the fallback logged %d times, want once:\n%s", n, ts.Logs.Text())
	}
	if !strings.Contains(ts.Logs.Text(), "more than 1 folders (-watch-limit)") {
		t.Fatal("the log does not say why it rescans")
	}
	if rescans := metric(t, ts, nil, "filehub_watch_rescans_total"); rescans < 3 {
		t.Fatalf("%v rescans, want at least 3", rescans)
	}
	if folders := metric(t, ts, nil, "filehub_watch_folders"); folders != 0 {
		t.Fatalf("%v folders still watched with inotify", folders)
	}
}

// TestWatchOff: with FILEHUB_WATCH=false nothing is announced, while a
// watching server on the same folder announces the same change.
func TestWatchOff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	off := harness.StartEnv(t, map[string]string{"FILEHUB_WATCH": "false"}, "-addr", "127.0.0.1:0", "-root", dir)
	on := harness.Start(t, dir)
	quiet, told := dialFS(t, off, "off"), dialFS(t, on, "on")

	start := time.Now()
	testutil.WriteFile(t, filepath.Join(dir, "a.txt"), "a")
	told.expect(start, "add a.txt")
	if got := quiet.fsBarrier(); len(got) > 0 {
		t.Fatalf("-watch=false announced %v", got)
	}
	resp, body := harness.Get(t, nil, off.URL+"/_/metrics")
	if resp.StatusCode != 200 || strings.Contains(string(body), "filehub_watch_") {
		t.Fatalf("a server that does not watch has watch metrics (HTTP %d)", resp.StatusCode)
	}
	if strings.Contains(off.Logs.Text(), "watching the folder") {
		t.Fatal("a server that does not watch says it watches")
	}
}
