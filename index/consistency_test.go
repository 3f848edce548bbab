//go:build unix

package index_test

// The index against the disk: a real folder, a real watcher (inotify, and
// the rescan it falls back to), every kind of change it knows, and after
// each, the index compared with a fresh walk of the folder by the
// files.Store's own rules.

import (
	"fmt"
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
	"filehub/index"
	"filehub/vocab"
	"filehub/watch"
)

// waitFor bounds each wait for the index to catch up: far above the few
// tens of milliseconds a change takes with the test's timings.
const waitFor = 10 * time.Second

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// fixture is a watched folder and its index.
type fixture struct {
	t       *testing.T
	dir     string
	store   *files.Store
	ix      *index.Index
	changed chan struct{} // a signal after each batch of changes applied
}

// newFixture serves dir (with dotfiles when show), indexes it through a
// watcher started with cfg, and stops both at cleanup.
func newFixture(t *testing.T, dir string, show bool, cfg watch.Config) *fixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	store, err := files.Open(dir, files.Config{ShowHidden: show})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fx := &fixture{t: t, dir: dir, store: store, ix: index.New(store, index.Config{Logger: log}),
		changed: make(chan struct{}, 1)}
	cfg.Logger = log
	cfg.Baseline = fx.ix.Load
	w, err := watch.Start(dir, store, func(cs ...vocab.Change) {
		fx.ix.Apply(cs...)
		select {
		case fx.changed <- struct{}{}:
		default:
		}
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return fx
}

// walk is the tree as the Store lists it now, by path: folders behind a
// link are listed, not walked (the watcher's rule: their contents are
// indexed under their real paths).
func (fx *fixture) walk() map[string]files.Entry {
	out := make(map[string]files.Entry)
	var rec func(p string)
	rec = func(p string) {
		list, err := fx.store.List(p)
		if err != nil {
			return // gone meanwhile, or unreadable
		}
		for _, in := range list {
			out[in.Path] = files.NewEntry(in)
			if fi, err := os.Lstat(filepath.Join(fx.dir, filepath.FromSlash(in.Path))); err == nil && fi.IsDir() {
				rec(in.Path)
			}
		}
	}
	rec(".")
	return out
}

// held is the index's tree, by path.
func (fx *fixture) held() map[string]files.Entry {
	out := make(map[string]files.Entry)
	fx.ix.Walk(func(dir string, e files.Entry) {
		p := e.Name
		if dir != "." {
			p = dir + "/" + e.Name
		}
		out[p] = e
	})
	return out
}

// diff says how the index differs from the disk, "" when it does not.
func diff(held, disk map[string]files.Entry) string {
	var b strings.Builder
	var keys []string
	for p := range disk {
		keys = append(keys, p)
	}
	for p := range held {
		if _, ok := disk[p]; !ok {
			keys = append(keys, p)
		}
	}
	slices.Sort(keys)
	for _, p := range keys {
		h, hok := held[p]
		d, dok := disk[p]
		switch {
		case !hok:
			fmt.Fprintf(&b, "\n  missing %s %+v", p, d)
		case !dok:
			fmt.Fprintf(&b, "\n  extra   %s %+v", p, h)
		case !same(h, d):
			fmt.Fprintf(&b, "\n  differs %s: index %+v, disk %+v", p, h, d)
		}
	}
	return b.String()
}

// same compares entries as the index keeps them: a folder's time is the
// one it had at its last visible change (what changes only a hidden name in
// it, a dotfile, a FIFO, or the folder a link leads to, is never
// announced), so folders' times are left out.
func same(a, b files.Entry) bool {
	if a.Dir && b.Dir {
		a.Mod, b.Mod = 0, 0
	}
	return a == b
}

// settled waits until the index equals a fresh walk, and checks that each
// folder's listing from the index is the Store's, in order.
func (fx *fixture) settled(step string) {
	fx.t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		d := diff(fx.held(), fx.walk())
		if d == "" {
			break
		}
		select {
		case <-fx.changed:
		case <-deadline.C:
			fx.t.Fatalf("%s: the index differs from the disk after %v:%s", step, waitFor, d)
		}
	}
	for p, e := range fx.walk() {
		if !e.Dir {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(fx.dir, p)); err != nil || !fi.IsDir() {
			continue
		}
		fx.sameListing(step, p)
	}
	fx.sameListing(step, ".")
}

// sameListing checks that the index lists the folder p as the Store does
// (an empty folder is not held: the handler lists it from the disk).
func (fx *fixture) sameListing(step, p string) {
	fx.t.Helper()
	want, err := fx.store.List(p)
	if err != nil {
		return
	}
	got, ok := fx.ix.Listing(p, files.SortName)
	if !ok {
		if len(want) != 0 {
			fx.t.Fatalf("%s: the index does not hold %q, which has %d entries", step, p, len(want))
		}
		return
	}
	if len(got) != len(want) {
		fx.t.Fatalf("%s: the index lists %d entries in %q, the disk %d", step, len(got), p, len(want))
	}
	for i := range want {
		if !same(*got[i], files.NewEntry(want[i])) {
			fx.t.Fatalf("%s: %q entry %d: index %+v, disk %+v", step, p, i, *got[i], files.NewEntry(want[i]))
		}
	}
}

func (fx *fixture) path(p string) string { return filepath.Join(fx.dir, filepath.FromSlash(p)) }

func (fx *fixture) write(p, text string) {
	fx.t.Helper()
	if err := os.WriteFile(fx.path(p), []byte(text), 0o644); err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) do(err error) {
	fx.t.Helper()
	if err != nil {
		fx.t.Fatal(err)
	}
}

// steps drive every change the watcher knows, the index checked after each.
func steps(t *testing.T, fx *fixture) {
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, s := range []struct {
		name string
		do   func()
	}{
		{"create", func() { fx.write("a.txt", "hello") }},
		{"write", func() {
			f, err := os.OpenFile(fx.path("a.txt"), os.O_APPEND|os.O_WRONLY, 0)
			fx.do(err)
			_, err = f.WriteString(" world")
			fx.do(err)
			fx.do(f.Close())
		}},
		{"touch", func() { fx.do(os.Chtimes(fx.path("a.txt"), old, old)) }},
		{"folder with files", func() {
			fx.do(os.MkdirAll(fx.path("docs/2024"), 0o755))
			fx.write("docs/r.md", "# r")
			fx.write("docs/2024/Résumé.PDF", "pdf")
		}},
		{"rename within", func() { fx.do(os.Rename(fx.path("a.txt"), fx.path("b.txt"))) }},
		{"rename across", func() { fx.do(os.Rename(fx.path("b.txt"), fx.path("docs/b.txt"))) }},
		{"rename over", func() {
			fx.write("c.txt", "c")
			fx.do(os.Rename(fx.path("c.txt"), fx.path("docs/r.md")))
		}},
		{"deep folder", func() {
			fx.do(os.MkdirAll(fx.path("deep/x/y"), 0o755))
			fx.write("deep/x/y/z.go", "package z")
			fx.write("deep/x/w.txt", "w")
		}},
		{"folder move", func() { fx.do(os.Rename(fx.path("deep"), fx.path("docs/deep"))) }},
		{"folder move back and over an empty one", func() {
			fx.do(os.Mkdir(fx.path("empty"), 0o755))
			fx.do(syscall.Rename(fx.path("docs/deep"), fx.path("empty"))) // rename(2): os.Rename refuses a folder
		}},
		{"chmod 000 file", func() { fx.do(os.Chmod(fx.path("docs/b.txt"), 0)) }},
		{"chmod file back", func() { fx.do(os.Chmod(fx.path("docs/b.txt"), 0o644)) }},
		{"chmod 000 folder", func() { fx.do(os.Chmod(fx.path("docs/2024"), 0)) }},
		{"chmod folder back", func() { fx.do(os.Chmod(fx.path("docs/2024"), 0o755)) }},
		{"link to a file", func() { fx.do(os.Symlink("docs/r.md", fx.path("r-link.md"))) }},
		{"link to a folder", func() { fx.do(os.Symlink("docs", fx.path("docs-link"))) }},
		{"link out", func() { fx.do(os.Symlink("/etc/passwd", fx.path("passwd"))) }},
		{"broken link", func() {
			fx.do(os.Symlink("nowhere", fx.path("broken")))
			// A barrier: the watcher settles paths in the order of their
			// last events, so once the index has this file the link's own
			// event is settled (as broken) too.
			fx.write("after-broken", "")
		}},
		{"broken link mended", func() { fx.write("nowhere", "now here") }},
		{"link to a dotfile", func() { fx.do(os.Symlink(".env", fx.path("env-link"))) }},
		{"dotfile", func() { fx.write(".env", "SECRET=1") }},
		{"dot folder", func() {
			fx.do(os.Mkdir(fx.path(".git"), 0o755))
			fx.write(".git/config", "[core]")
		}},
		{"fifo", func() { fx.do(syscall.Mkfifo(fx.path("docs/fifo"), 0o644)) }},
		{"hard link", func() { fx.do(os.Link(fx.path("docs/r.md"), fx.path("hard.md"))) }},
		{"folder replaced by a file", func() {
			fx.do(os.RemoveAll(fx.path("empty")))
			fx.write("empty", "now a file")
		}},
		{"file replaced by a folder", func() {
			fx.do(os.Remove(fx.path("empty")))
			fx.do(os.Mkdir(fx.path("empty"), 0o755))
			fx.write("empty/inside.txt", "in")
		}},
		{"delete", func() { fx.do(os.Remove(fx.path("hard.md"))) }},
		{"delete a folder", func() { fx.do(os.RemoveAll(fx.path("docs"))) }},
		{"many at once", func() {
			fx.do(os.Mkdir(fx.path("many"), 0o755))
			for i := range 200 {
				fx.write(path.Join("many", fmt.Sprintf("f%03d.txt", i)), "x")
			}
		}},
	} {
		s.do()
		fx.settled(s.name)
	}
}

// TestConsistent checks the index against the disk after every change, as
// inotify tells them, and as the rescan finds them (the watcher falls back
// to it at once: two folders, a limit of one).
func TestConsistent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		show bool
		cfg  watch.Config
	}{
		{"inotify", false, watch.Config{Quiet: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond}},
		{"inotify with dotfiles", true, watch.Config{Quiet: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond}},
		{"rescan", false, watch.Config{Limit: 1, Interval: 30 * time.Millisecond, Quiet: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "start", "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "start", "sub", "s.txt"), []byte("s"), 0o644); err != nil {
				t.Fatal(err)
			}
			fx := newFixture(t, dir, tc.show, tc.cfg)
			fx.settled("start")
			steps(t, fx)
		})
	}
}
