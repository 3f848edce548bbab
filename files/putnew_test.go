package files_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filehub/files"
)

// TestPutNew: the drop links' door writes a new file into a folder whatever
// Config.Uploads says, never replaces one, takes a plain name only, checks
// the folder as every other path (links followed) and is shut on a
// read-only Store.
func TestPutNew(t *testing.T) {
	t.Parallel()
	bothWays(t, func(t *testing.T, mode string) {
		// Uploads off, hidden files shown: neither changes what PutNew takes.
		e := linkEnv(t, files.Config{Uploads: false, ShowHidden: true, MaxUpload: 64}, mode)

		res, err := e.store.PutNew("docs/", "new.txt", strings.NewReader("hello"), -1, nil)
		if err != nil || res.Path != "docs/new.txt" || res.Size != 5 || !res.Created {
			t.Fatalf("PutNew docs/new.txt = %+v, %v", res, err)
		}
		if got := readFile(t, filepath.Join(e.dir, "docs", "new.txt")); got != "hello" {
			t.Fatalf("docs/new.txt holds %q", got)
		}
		var began string
		if _, err := e.store.PutNew("", "root.txt", strings.NewReader("r"), -1, func(p string) { began = p }); err != nil || began != "root.txt" {
			t.Fatalf("PutNew into the root: began %q, %v", began, err)
		}
		// Through a link to a folder inside: where the link leads.
		if res, err := e.store.PutNew("docs-link", "via.txt", strings.NewReader("v"), -1, nil); err != nil || res.Path != "docs-link/via.txt" {
			t.Fatalf("PutNew through docs-link = %+v, %v", res, err)
		}

		for _, tc := range []struct {
			dir, name string
			want      error
		}{
			{"docs", "new.txt", files.ErrExists},
			{"docs", "a.md", files.ErrExists},
			{"", "myfile1.txt", files.ErrExists},
			{"", "link-in", files.ErrExists},  // a link is a name taken
			{"", "dangling", files.ErrExists}, // even a broken one: never written through
			{"", "abs-link", files.ErrExists}, // nor one that leaves the folder
			{"docs", "sub", files.ErrExists},  // a folder: the name is taken
			{"docs", "", files.ErrBadPath},
			{"docs", ".", files.ErrBadPath},
			{"docs", "..", files.ErrBadPath},
			{"docs", "../x.txt", files.ErrBadPath},
			{"docs", "a/b.txt", files.ErrBadPath},
			{"docs", "/abs.txt", files.ErrBadPath},
			{"docs", `a\b.txt`, files.ErrBadPath},
			{"docs", "..\\x", files.ErrBadPath},
			{"docs", ".env", files.ErrBadPath}, // a dotfile, though ShowHidden is set
			{"docs", ".filehub-tmp-x", files.ErrBadPath},
			{"docs", "nul\x00.txt", files.ErrBadPath},
			{"docs", "nl\n.txt", files.ErrBadPath},
			{"docs", "c1\u0085.txt", files.ErrBadPath},
			{"docs", "bad\xff.txt", files.ErrBadPath},
			{"docs", strings.Repeat("n", 256), files.ErrBadPath},
			{"..", "x.txt", files.ErrBadPath},
			{"docs/../..", "x.txt", files.ErrBadPath},
			{"no-such-dir", "x.txt", fs.ErrNotExist},
			{"myfile1.txt", "x.txt", fs.ErrNotExist}, // a file is no folder
			{"link-dir", "x.txt", fs.ErrNotExist},    // leaves the folder
			{"rel-link", "x.txt", fs.ErrNotExist},
			{"loop-a", "x.txt", fs.ErrNotExist},
			{"_", "x.txt", fs.ErrNotExist}, // reserved
			{"", "_", fs.ErrNotExist},      // reserved
			{"", "ws", fs.ErrNotExist},     // reserved
			{".filehub-tmp-abc", "x", fs.ErrNotExist},
		} {
			_, err := e.store.PutNew(tc.dir, tc.name, strings.NewReader(secret), -1, nil)
			if !errors.Is(err, tc.want) {
				t.Errorf("PutNew(%q, %q) = %v, want %v", tc.dir, tc.name, err, tc.want)
			}
		}
		// Over the limit given, and over MaxUpload whatever the limit.
		if _, err := e.store.PutNew("docs", "big.txt", strings.NewReader("0123456789"), 9, nil); !errors.Is(err, files.ErrTooLarge) {
			t.Errorf("10 bytes with a limit of 9: %v, want ErrTooLarge", err)
		}
		if _, err := e.store.PutNew("docs", "big.txt", strings.NewReader(strings.Repeat("x", 65)), 1000, nil); !errors.Is(err, files.ErrTooLarge) {
			t.Errorf("65 bytes over a MaxUpload of 64: %v, want ErrTooLarge", err)
		}
		if _, err := e.store.PutNew("docs", "big.txt", strings.NewReader("x"), 0, nil); !errors.Is(err, files.ErrTooLarge) {
			t.Errorf("1 byte with a limit of 0: %v, want ErrTooLarge", err)
		}
		if res, err := e.store.PutNew("docs", "empty.txt", strings.NewReader(""), 0, nil); err != nil || res.Size != 0 {
			t.Errorf("an empty file with a limit of 0: %+v, %v", res, err)
		}
		if _, err := os.Lstat(filepath.Join(e.dir, "docs", "big.txt")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a refused upload left docs/big.txt: %v", err)
		}
		for _, link := range []string{"link-in", "dangling", "abs-link"} {
			if _, err := os.Readlink(filepath.Join(e.dir, link)); err != nil {
				t.Errorf("link %s is gone: %v", link, err)
			}
		}
		// Nothing written into a folder a link leads to that is hidden
		// (ShowHidden serves dotfiles, but the temp names stay refused).
		if _, err := e.store.PutNew("tmplink", "x", strings.NewReader(secret), -1, nil); err == nil {
			t.Error("PutNew through a link to a temp name succeeded")
		}
		checkHiddenIntact(t, e.dir)
		if tmp := temps(t, e.dir); len(tmp) != 1 { // the fixture's own
			t.Errorf("temp files left: %q", tmp)
		}
	})
}

// TestPutNewHidesDotFolders: without ShowHidden, a dot-folder, named or
// reached through a link, is not there for PutNew.
func TestPutNewHidesDotFolders(t *testing.T) {
	t.Parallel()
	bothWays(t, func(t *testing.T, mode string) {
		e := linkEnv(t, files.Config{}, mode)
		for _, dir := range []string{".git", ".private", "dir_to_git", "priv", "docs/gitdir-up", "docs/sub/deeper"} {
			if _, err := e.store.PutNew(dir, "x.txt", strings.NewReader(secret), -1, nil); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("PutNew(%q) = %v, want fs.ErrNotExist", dir, err)
			}
		}
		checkHiddenIntact(t, e.dir)
		if tmp := temps(t, e.dir); len(tmp) != 1 { // the fixture's own
			t.Errorf("temp files left: %q", tmp)
		}
	})
}

// TestPutNewReadOnly: ReadOnly shuts every door of writing, PutNew's and
// PUT's, even with Uploads set.
func TestPutNewReadOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{cfg: files.Config{Uploads: true, ReadOnly: true}})
	if _, err := e.store.PutNew("docs", "x.txt", strings.NewReader("x"), -1, nil); !errors.Is(err, files.ErrForbidden) {
		t.Errorf("PutNew on a read-only store: %v, want ErrForbidden", err)
	}
	if _, err := e.store.Put("docs/y.txt", strings.NewReader("y"), false); !errors.Is(err, files.ErrForbidden) {
		t.Errorf("Put on a read-only store: %v, want ErrForbidden", err)
	}
	if resp, _ := e.do(t, "PUT", "/docs/z.txt", nil, strings.NewReader("z")); resp.StatusCode != 403 {
		t.Errorf("PUT on a read-only store: %d, want 403", resp.StatusCode)
	}
	for _, name := range []string{"x.txt", "y.txt", "z.txt"} {
		if _, err := os.Lstat(filepath.Join(e.dir, "docs", name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("docs/%s was written: %v", name, err)
		}
	}
}
