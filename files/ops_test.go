package files_test

// Mkdir, Remove, Rename, CheckPut and RealPath: the changes a WebDAV mount
// makes, held to the same names and links as uploads.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"filehub/files"
	"filehub/internal/testutil"
)

func opsStore(t *testing.T, cfg files.Config) (*files.Store, string, string) {
	t.Helper()
	base := t.TempDir()
	dir, outside := filepath.Join(base, "served"), filepath.Join(base, "outside")
	testutil.WriteTree(t, dir, map[string]string{
		"a.txt": "a", ".env": "x", "docs/b.txt": "b", "keep/.git/HEAD": "h", "keep/c.txt": "c", "empty/.keep": "",
	})
	testutil.WriteTree(t, outside, map[string]string{"secret": "s"})
	for link, to := range map[string]string{"out": outside, "toenv": ".env", "todocs": "docs", "broken": "nothing"} {
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := files.Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir, outside
}

func TestOpsNeedUploads(t *testing.T) {
	t.Parallel()
	for _, cfg := range []files.Config{{}, {Uploads: true, ReadOnly: true}} {
		s, _, _ := opsStore(t, cfg)
		if _, err := s.Mkdir("new"); !errors.Is(err, files.ErrForbidden) {
			t.Errorf("%+v Mkdir: %v", cfg, err)
		}
		if err := s.Remove("a.txt"); !errors.Is(err, files.ErrForbidden) {
			t.Errorf("%+v Remove: %v", cfg, err)
		}
		if err := s.Rename("a.txt", "z.txt"); !errors.Is(err, files.ErrForbidden) {
			t.Errorf("%+v Rename: %v", cfg, err)
		}
		if err := s.CheckPut("z.txt", true); !errors.Is(err, files.ErrForbidden) {
			t.Errorf("%+v CheckPut: %v", cfg, err)
		}
	}
}

func TestOps(t *testing.T) {
	t.Parallel()
	s, dir, outside := opsStore(t, files.Config{Uploads: true})
	for _, tc := range []struct {
		what string
		err  error
		want error
	}{
		{"mkdir docs/new", must(s.Mkdir("docs/new")), nil},
		{"mkdir again", must(s.Mkdir("docs/new")), files.ErrExists},
		{"mkdir a file's name", must(s.Mkdir("a.txt")), files.ErrExists},
		{"mkdir no parent", must(s.Mkdir("none/new")), fs.ErrNotExist},
		{"mkdir hidden", must(s.Mkdir(".git")), fs.ErrNotExist},
		{"mkdir through a link out", must(s.Mkdir("out/new")), fs.ErrNotExist},
		{"mkdir ..", must(s.Mkdir("../new")), files.ErrBadPath},
		{"mkdir reserved", must(s.Mkdir("_/new")), fs.ErrNotExist},
		{"remove the root", s.Remove(""), files.ErrForbidden},
		{"remove hidden", s.Remove(".env"), fs.ErrNotExist},
		{"remove a link to hidden", s.Remove("toenv"), fs.ErrNotExist},
		{"remove a link out", s.Remove("out"), fs.ErrNotExist},
		{"remove a broken link", s.Remove("broken"), fs.ErrNotExist},
		{"remove a folder holding .git", s.Remove("keep"), files.ErrForbidden},
		{"remove a folder holding a dotfile", s.Remove("empty"), files.ErrForbidden},
		{"remove through a link out", s.Remove("out/secret"), fs.ErrNotExist},
		{"rename into itself", s.Rename("docs", "docs/inner"), files.ErrBadPath},
		{"rename onto a file", s.Rename("a.txt", "docs/b.txt"), files.ErrExists},
		{"rename to hidden", s.Rename("a.txt", ".a"), fs.ErrNotExist},
		{"rename hidden", s.Rename(".env", "env"), fs.ErrNotExist},
		{"rename a link out", s.Rename("out", "in"), fs.ErrNotExist},
		{"rename into a link out", s.Rename("a.txt", "out/a.txt"), fs.ErrNotExist},
		{"rename the root", s.Rename("", "x"), files.ErrForbidden},
		{"put onto a link to hidden", s.CheckPut("toenv", true), fs.ErrNotExist},
		{"put onto a folder", s.CheckPut("docs", true), files.ErrForbidden},
		{"put without overwrite onto a file", s.CheckPut("a.txt", false), files.ErrExists},
	} {
		if !errors.Is(tc.err, tc.want) || (tc.want == nil) != (tc.err == nil) {
			t.Errorf("%s: %v, want %v", tc.what, tc.err, tc.want)
		}
	}
	// What the refusals left: all of it; nothing outside changed.
	for _, p := range []string{".env", "keep/.git/HEAD", "keep/c.txt", "empty/.keep", "a.txt", "docs/b.txt"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Error(err)
	}

	// What may change does.
	if err := s.Rename("a.txt", "docs/new/a.txt"); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename("docs/new", "moved"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "moved", "a.txt")); err != nil || string(b) != "a" {
		t.Errorf("after the renames: %q %v", b, err)
	}
	if err := s.Remove("todocs"); err != nil { // the link, not docs
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "docs", "b.txt")); err != nil {
		t.Errorf("removing a link removed what it leads to: %v", err)
	}
	if err := s.Remove("moved"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "moved")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("moved is still there: %v", err)
	}
}

func TestRealPath(t *testing.T) {
	t.Parallel()
	s, _, _ := opsStore(t, files.Config{})
	for in, want := range map[string]string{"": ".", "docs/b.txt": "docs/b.txt", "todocs/b.txt": "docs/b.txt", "todocs": "docs"} {
		if got, err := s.RealPath(in); err != nil || got != want {
			t.Errorf("RealPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"toenv", "out/secret", "broken", ".env", "../x"} {
		if got, err := s.RealPath(in); err == nil {
			t.Errorf("RealPath(%q) = %q, want an error", in, got)
		}
	}
}

// must drops Mkdir's Info.
func must(_ files.Info, err error) error { return err }
