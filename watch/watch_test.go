//go:build unix

package watch

// The watcher on a real folder with a recording notify: the cases that
// depend on how inotify names things after a move, on a folder that goes
// and comes back, on links, and the rescan's comparison. The server's own
// tests (../watch_test.go) cover the path from the OS to a page.

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"filehub/files"
	"filehub/internal/testutil"
	"filehub/vocab"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
)

// waitFor bounds every wait for a change: far above the ~150 ms a change
// takes, so that a hang fails fast and a slow machine does not.
const waitFor = 5 * time.Second

type recorder struct {
	t  *testing.T
	ch chan vocab.Change
	w  *Watcher
}

// start watches dir with cfg (its logs into the test) and records every
// change; the watcher stops at cleanup.
func start(t *testing.T, dir string, show bool, cfg Config) *recorder {
	t.Helper()
	store, err := files.Open(dir, files.Config{ShowHidden: show})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := &recorder{t: t, ch: make(chan vocab.Change, 1<<16)}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r.w, err = Start(dir, store, func(cs ...vocab.Change) {
		for _, c := range cs {
			r.ch <- c
		}
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.w.Close() })
	return r
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// expect reads exactly the changes want ("add a", "remove b"), in any order.
func (r *recorder) expect(want ...string) []vocab.Change {
	r.t.Helper()
	var got []vocab.Change
	var ops []string
	timeout := time.After(waitFor)
	for len(got) < len(want) {
		select {
		case c := <-r.ch:
			got = append(got, c)
			ops = append(ops, c.Op+" "+c.Path)
		case <-timeout:
			r.t.Fatalf("got %q, want %q", ops, want)
		}
	}
	a, b := slices.Clone(ops), slices.Clone(want)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		r.t.Fatalf("got %q, want %q", ops, want)
	}
	return got
}

// settled writes a sentinel file and reads up to its add: every event
// before it has been settled then (paths settle in the order of their last
// events, a pass at a time). It returns what came before, and removes the
// sentinel (whose remove the next settled will see first).
func (r *recorder) settled(dir string) []string {
	r.t.Helper()
	name := fmt.Sprintf("zz-sentinel-%d", time.Now().UnixNano())
	write(r.t, filepath.Join(dir, name), "")
	var before []string
	timeout := time.After(waitFor)
	for {
		select {
		case c := <-r.ch:
			if c.Path == name {
				// The rest of its pass came in the same call: it is in the
				// channel already.
				for {
					select {
					case c := <-r.ch:
						before = append(before, c.Op+" "+c.Path)
					default:
						os.Remove(filepath.Join(dir, name))
						r.expect("remove " + name)
						return before
					}
				}
			}
			before = append(before, c.Op+" "+c.Path)
		case <-timeout:
			r.t.Fatalf("the sentinel never came; before it %q", before)
		}
	}
}

func write(t *testing.T, name, body string) { t.Helper(); testutil.WriteFile(t, name, body) }

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMovedTreeKeepsWatching: inotify keeps a moved folder's watches, with
// the old names; the watcher drops them at the move and watches the new
// names, so a file written deep in the moved tree is announced where it is.
func TestMovedTreeKeepsWatching(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a", "b", "c", "f.txt"), "f")
	r := start(t, dir, false, Config{})
	mustDo(t, os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "z")))
	r.expect("remove a", "add z", "add z/b", "add z/b/c", "add z/b/c/f.txt")
	write(t, filepath.Join(dir, "z", "b", "c", "g.txt"), "g")
	r.expect("add z/b/c/g.txt")
	// And back: a/b/c is watched again, under its first name.
	mustDo(t, os.Rename(filepath.Join(dir, "z"), filepath.Join(dir, "a")))
	r.expect("remove z", "add a", "add a/b", "add a/b/c", "add a/b/c/f.txt", "add a/b/c/g.txt")
	write(t, filepath.Join(dir, "a", "b", "c", "h.txt"), "h")
	r.expect("add a/b/c/h.txt")
	if rest := r.settled(dir); len(rest) > 0 {
		t.Fatalf("unexpected %q", rest)
	}
}

// TestFolderComesBack: a folder removed and made again at once, faster
// than a quiet period, is watched again; so is one made after its remove
// was announced.
func TestFolderComesBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "d", "old.txt"), "old")
	r := start(t, dir, false, Config{})
	d := filepath.Join(dir, "d")

	mustDo(t, os.RemoveAll(d))
	write(t, filepath.Join(d, "new.txt"), "new")
	// Either "remove d, add d, add d/new.txt" or, when d came back before
	// it settled, "remove d/old.txt, add d/new.txt": both leave a page
	// right. What matters is what follows.
	got := r.settled(dir)
	if !slices.Contains(got, "add d/new.txt") || !(slices.Contains(got, "remove d/old.txt") || slices.Contains(got, "remove d")) {
		t.Fatalf("after rm -r d; mkdir d: %q", got)
	}
	write(t, filepath.Join(d, "later.txt"), "later")
	r.expect("add d/later.txt")

	mustDo(t, os.RemoveAll(d))
	r.expect("remove d")
	write(t, filepath.Join(d, "again.txt"), "again")
	r.expect("add d", "add d/again.txt")
	write(t, filepath.Join(d, "last.txt"), "last")
	r.expect("add d/last.txt")
}

// TestFolderRenamedOverFolder: a folder moved over an empty one (mv -T,
// rename(2)) takes its place: inotify drops the old one's watch without a
// word (an attribute change, no remove), so the watcher must walk and
// watch the folder now at that name, what it holds included.
func TestFolderRenamedOverFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustDo(t, os.Mkdir(filepath.Join(dir, "old"), 0o755))
	write(t, filepath.Join(dir, "new", "s", "f1"), "1")
	write(t, filepath.Join(dir, "new", "f2"), "2")
	r := start(t, dir, false, Config{})
	// syscall.Rename: os.Rename refuses to replace a folder.
	mustDo(t, syscall.Rename(filepath.Join(dir, "new"), filepath.Join(dir, "old")))
	r.expect("remove new", "add old/f2", "add old/s", "add old/s/f1")
	write(t, filepath.Join(dir, "old", "f3"), "3")
	write(t, filepath.Join(dir, "old", "s", "f4"), "4")
	r.expect("add old/f3", "add old/s/f4")
	if rest := r.settled(dir); len(rest) > 0 {
		t.Fatalf("unexpected %q", rest)
	}
}

// TestLinks: a link loop costs nothing; a link to a folder is listed, not
// walked, and what changes behind it is announced under its real path.
func TestLinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "sub", "a.txt"), "a")
	mustDo(t, os.Symlink(".", filepath.Join(dir, "loop")))
	mustDo(t, os.Symlink("..", filepath.Join(dir, "sub", "up")))
	r := start(t, dir, false, Config{})
	mustDo(t, os.Symlink("sub", filepath.Join(dir, "alias")))
	mustDo(t, os.Symlink("/", filepath.Join(dir, "root")))
	got := r.expect("add alias")
	if !got[0].Dir {
		t.Fatalf("a link to a folder is a folder: %+v", got[0])
	}
	write(t, filepath.Join(dir, "sub", "b.txt"), "b")
	r.expect("add sub/b.txt")
	if rest := r.settled(dir); len(rest) > 0 {
		t.Fatalf("unexpected %q", rest)
	}
}

// TestKindChanges: a file that becomes a folder, and back, is a remove
// and an add each time.
func TestKindChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "thing")
	write(t, p, "a file")
	r := start(t, dir, false, Config{})
	mustDo(t, os.Remove(p))
	mustDo(t, os.Mkdir(p, 0o755))
	got := r.expect("remove thing", "add thing")
	if got[0].Op != vocab.FSRemove || got[0].Dir || !got[1].Dir {
		t.Fatalf("file to folder: %+v", got)
	}
	write(t, filepath.Join(p, "in.txt"), "in")
	r.expect("add thing/in.txt")
	mustDo(t, os.RemoveAll(p))
	write(t, p, "a file again")
	got = r.expect("remove thing", "add thing")
	if !got[0].Dir || got[1].Dir || got[1].Size != int64(len("a file again")) {
		t.Fatalf("folder to file: %+v", got)
	}
}

// TestShowHidden: with the Store's ShowHidden, dotfiles and their folders
// are announced and watched; the temp files of uploads never are.
func TestShowHidden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := start(t, dir, true, Config{})
	write(t, filepath.Join(dir, ".env"), "A=1")
	write(t, filepath.Join(dir, ".filehub-tmp-abc"), "half")
	r.expect("add .env")
	write(t, filepath.Join(dir, ".git", "config"), "[core]")
	r.expect("add .git", "add .git/config")
	write(t, filepath.Join(dir, ".git", "HEAD"), "ref")
	r.expect("add .git/HEAD")
	if rest := r.settled(dir); len(rest) > 0 {
		t.Fatalf("unexpected %q", rest)
	}
}

// TestRescan: without inotify (Limit reached), the rescan finds adds,
// changes, removes, kind changes and a removed tree as one remove.
func TestRescan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "f.txt"), "f")
	write(t, filepath.Join(dir, "tree", "x", "y.txt"), "y")
	write(t, filepath.Join(dir, "kind"), "file")
	r := start(t, dir, false, Config{Limit: 1, Interval: 50 * time.Millisecond})
	if r.w.fsw != nil {
		t.Fatal("inotify still in use past the limit")
	}
	// Each change is atomic, so that a rescan in the middle of them sees
	// each one whole or not at all: replaced by a rename, removed by a
	// move out of the folder.
	write(t, filepath.Join(dir, ".f.txt.new"), "longer now")
	mustDo(t, os.Rename(filepath.Join(dir, ".f.txt.new"), filepath.Join(dir, "f.txt")))
	mustDo(t, os.Rename(filepath.Join(dir, "tree"), filepath.Join(t.TempDir(), "tree")))
	mustDo(t, os.Remove(filepath.Join(dir, "kind")))
	mustDo(t, os.Mkdir(filepath.Join(dir, "kind"), 0o755))
	staged := t.TempDir()
	write(t, filepath.Join(staged, "new", "n.txt"), "n")
	mustDo(t, os.Rename(filepath.Join(staged, "new"), filepath.Join(dir, "new")))
	got := r.expect("change f.txt", "remove tree", "remove kind", "add kind", "add new", "add new/n.txt")
	for _, c := range got {
		if c.Path == "f.txt" && c.Size != int64(len("longer now")) {
			t.Fatalf("change %+v", c)
		}
	}
	// An untouched tree rescans to nothing.
	write(t, filepath.Join(dir, "after"), "")
	r.expect("add after")
	select {
	case c := <-r.ch:
		t.Fatalf("unexpected %+v", c)
	default:
	}
}

// TestClose: Close stops the watcher, may be called twice, and nothing
// is announced after it.
func TestClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := start(t, dir, false, Config{})
	write(t, filepath.Join(dir, "before"), "")
	r.expect("add before")
	mustDo(t, r.w.Close())
	mustDo(t, r.w.Close())
	write(t, filepath.Join(dir, "after"), "")
	// The goroutine that would announce it has returned (Close waited).
	select {
	case c := <-r.ch:
		t.Fatalf("announced after Close: %+v", c)
	default:
	}
}

// BenchmarkRescan is one rescan of a tree of 10,000 files in 500 folders
// that did not change: what the watcher costs every Interval when it
// rescans.
func BenchmarkRescan(b *testing.B) {
	dir := tree10k(b)
	store, err := files.Open(dir, files.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	w, err := newWatcher(dir, store, func(cs ...vocab.Change) { b.Fatalf("%d changes", len(cs)) }, Config{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	if w.fsw != nil {
		b.Fatal("not rescanning")
	}
	b.ResetTimer()
	for b.Loop() {
		w.rescanAll()
	}
}

// tree10k makes 10,000 files in 500 folders, 25 to a parent (521 folders
// with the top one), as bench fstree does.
func tree10k(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	for i := range 500 {
		for j := range 20 {
			name := filepath.Join(dir, fmt.Sprintf("d%03d", i/25), fmt.Sprintf("e%03d", i), fmt.Sprintf("f%02d.txt", j))
			if j == 0 {
				if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	return dir
}

// BenchmarkStart is the start-up cost of watching a tree of 10,000 files
// in 500 folders: the walk, a watch per folder, the snapshot.
func BenchmarkStart(b *testing.B) {
	dir := tree10k(b)
	store, err := files.Open(dir, files.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	b.ResetTimer()
	for b.Loop() {
		w, err := Start(dir, store, func(...vocab.Change) {}, Config{})
		if err != nil {
			b.Fatal(err)
		}
		if w.watched != 521 {
			b.Fatalf("%d folders watched, want 521", w.watched)
		}
		w.Close()
	}
}

// TestUnsearchableFolder: what changed in a folder while it could not be
// searched (chmod 000 before its events settled) is announced once its
// permissions are given back: nothing else would tell of it, and pages
// would list it wrong for good.
func TestUnsearchableFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	q := filepath.Join(dir, "q")
	write(t, filepath.Join(q, "inner", "old.txt"), "old")
	store, err := files.Open(dir, files.Config{})
	mustDo(t, err)
	t.Cleanup(func() { store.Close() })
	r := &recorder{t: t, ch: make(chan vocab.Change, 1<<16)}
	// A long quiet period: the chmod below comes microseconds after the
	// writes, long before they settle.
	w, err := newWatcher(dir, store, func(cs ...vocab.Change) {
		for _, c := range cs {
			r.ch <- c
		}
	}, Config{Quiet: time.Second, MaxDelay: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	mustDo(t, err)
	if os.Geteuid() == 0 {
		// Root searches any folder: the watcher is refused as the kernel
		// refuses anyone else, by the modes of the folders on the way.
		w.stat = func(p string) (files.Info, error) {
			for d := path.Dir(p); d != "."; d = path.Dir(d) {
				if fi, err := os.Stat(filepath.Join(dir, d)); err == nil && fi.Mode().Perm()&0o111 == 0 {
					return files.Info{}, &fs.PathError{Op: "stat", Path: p, Err: syscall.EACCES}
				}
			}
			return store.Stat(p)
		}
	}
	r.w = w
	go w.run()
	t.Cleanup(func() { os.Chmod(q, 0o755); w.Close() })

	write(t, filepath.Join(q, "new.txt"), "new")
	write(t, filepath.Join(q, "inner", "deep.txt"), "deep")
	mustDo(t, os.Remove(filepath.Join(q, "inner", "old.txt")))
	mustDo(t, os.Chmod(q, 0))
	if rest := r.settled(dir); len(rest) > 0 {
		t.Fatalf("while q cannot be searched, nothing can be told of it: %q", rest)
	}
	mustDo(t, os.Chmod(q, 0o755))
	r.expect("add q/new.txt", "add q/inner/deep.txt", "remove q/inner/old.txt")
	if rest := r.settled(dir); len(rest) > 0 {
		t.Fatalf("unexpected %q", rest)
	}
}

// TestBackUnderLimit: a tree that outgrew Limit is rescanned; once a
// rescan finds it back under the limit (a tenth under), the watcher
// watches with inotify again, and rescans no more (issue 20, finding 13).
func TestBackUnderLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 11 {
		write(t, filepath.Join(dir, fmt.Sprintf("d%02d", i), "f.txt"), "f")
	}
	// 12 folders with the top one: over 10. Back under at 9.
	r := start(t, dir, false, Config{Limit: 10, Interval: 50 * time.Millisecond})
	if got := promtest.ToFloat64(r.w.m.Folders); got != 0 {
		t.Fatalf("%v folders watched past the limit", got)
	}
	gone := t.TempDir()
	var want []string
	for i := range 3 { // 9 left: back under
		d := fmt.Sprintf("d%02d", i)
		mustDo(t, os.Rename(filepath.Join(dir, d), filepath.Join(gone, d)))
		want = append(want, "remove "+d)
	}
	// The rescan that announces the removes watched the tree before it
	// told of them.
	r.expect(want...)
	if got := promtest.ToFloat64(r.w.m.Folders); got != 9 {
		t.Fatalf("%v folders watched, want 9 (inotify again)", got)
	}
	rescans := promtest.ToFloat64(r.w.m.Rescans)
	// Changes are inotify's now: one deep write, then the sentinel, each
	// taking longer than Interval, and no rescan meanwhile.
	write(t, filepath.Join(dir, "d05", "new.txt"), "n")
	r.expect("add d05/new.txt")
	if before := r.settled(dir); len(before) != 0 {
		t.Fatalf("unexpected %q", before)
	}
	if got := promtest.ToFloat64(r.w.m.Rescans); got != rescans {
		t.Fatalf("%v rescans after inotify took over", got-rescans)
	}
	// Outgrowing it again falls back again.
	for i := range 3 {
		mustDo(t, os.Mkdir(filepath.Join(dir, fmt.Sprintf("n%d", i)), 0o755))
	}
	r.expect("add n0", "add n1", "add n2")
	if got := promtest.ToFloat64(r.w.m.Folders); got != 0 {
		t.Fatalf("%v folders watched past the limit again", got)
	}
}
