package files_test

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filehub/files"
)

// hiddenLinks are symlinks inside the folder that lead to hidden names: a
// link to .git is .git, so each must be refused as .git is.
var hiddenLinks = map[string]string{
	"envlink":         ".env",
	"dir_to_git":      ".git",
	"gitcfg":          ".git/config",
	"docs/hidden-up":  "../.hidden",
	"docs/gitdir-up":  "../.git",
	"chain-a":         "chain-b",
	"chain-b":         "docs/chain-c",
	"docs/chain-c":    "../.env",
	"dirchain":        "docs/gitdir-up",
	"tmplink":         ".filehub-tmp-abc",
	"docs/sneaky":     "../docs/../.git/config",
	"priv":            ".private",
	"docs/priv-file":  "../.private/notes.txt",
	"docs/sub/deeper": "../../priv",
}

// linkEnv is the lab fixture plus hiddenLinks and a hidden folder, served
// by a Store that opens and checks files the way mode says (bothWays).
func linkEnv(t *testing.T, cfg files.Config, mode string) *env {
	t.Helper()
	e := newEnv(t, opts{cfg: cfg, setup: func(t *testing.T, dir string) {
		writeFile(t, filepath.Join(dir, ".private", "notes.txt"), secret)
		for link, target := range hiddenLinks {
			if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
				t.Fatal(err)
			}
		}
	}})
	switch mode {
	case "slow":
		files.SlowPath(e.store)
	case "by name":
		files.CheckByName(e.store)
	}
	return e
}

// bothWays runs test for each way a Store may check what it opens: the
// fast path where it can (one openat2 refusing links, else /proc/self/fd),
// always through the root then /proc/self/fd, and by name as on systems
// without /proc.
func bothWays(t *testing.T, test func(t *testing.T, mode string)) {
	for _, mode := range []string{"fast", "slow", "by name"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			test(t, mode)
		})
	}
}

// checkHiddenIntact fails if a hidden file changed, a file appeared in a
// hidden folder, or a link was replaced.
func checkHiddenIntact(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{".env", ".git/config", ".hidden", ".private/notes.txt", ".filehub-tmp-abc"} {
		if got := readFile(t, filepath.Join(dir, filepath.FromSlash(name))); got != secret {
			t.Errorf("%s now holds %q", name, got)
		}
	}
	for _, d := range []string{".git", ".private"} {
		ents, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil || len(ents) != 1 {
			t.Errorf("%s now holds %v (%v)", d, ents, err)
		}
	}
	for link, target := range hiddenLinks {
		if got, err := os.Readlink(filepath.Join(dir, filepath.FromSlash(link))); err != nil || got != target {
			t.Errorf("link %s now %q (%v)", link, got, err)
		}
	}
}

// TestHiddenLinksHTTP: every way to reach a hidden name through a link
// inside the folder is a 404, for reads and writes, and writes through such
// a link change nothing.
func TestHiddenLinksHTTP(t *testing.T) {
	t.Parallel()
	bothWays(t, func(t *testing.T, mode string) {
		e := linkEnv(t, files.Config{Uploads: true}, mode)
		type row struct {
			method, target string
			hdr            map[string]string
			want           int
		}
		var rows []row
		for _, target := range []string{
			"/envlink", "/gitcfg", "/docs/hidden-up", "/chain-a", "/chain-b", "/docs/chain-c",
			"/tmplink", "/docs/sneaky", "/docs/priv-file", "/dir_to_git/config", "/docs/gitdir-up/config",
			"/dirchain/config", "/priv/notes.txt", "/docs/sub/deeper/notes.txt",
			"/dir_to_git", "/priv", "/docs/gitdir-up", // folders: not even a redirect to the listing
			"/dir_to_git/", "/docs/gitdir-up/", "/dirchain/", "/priv/", "/docs/sub/deeper/",
			"/dir_to_git/?zip", "/priv/?zip", "/docs/sub/deeper/?zip",
			"/envlink?download",
		} {
			rows = append(rows, row{"GET", target, nil, 404}, row{"HEAD", target, nil, 404})
		}
		for _, target := range []string{
			"/envlink", "/gitcfg", "/chain-a", "/tmplink", "/docs/sneaky", "/docs/hidden-up",
			"/dir_to_git/config", "/dir_to_git/hooks-post-checkout", "/docs/gitdir-up/new.txt",
			"/priv/notes.txt", "/priv/new.txt", "/docs/sub/deeper/new.txt", "/dirchain/config",
		} {
			rows = append(rows,
				row{"PUT", target, nil, 404},
				row{"PUT", target + "?overwrite=1", nil, 404},
				row{"PUT", target + "?resume=hidden-key-1", nil, 404},
				row{"PUT", target + "?resume=hidden-key-2&overwrite=1", nil, 404},
				row{"PUT", target + "?resume=hidden-key-3&overwrite=1", map[string]string{"Content-Range": "bytes 0-4/10"}, 404},
				row{"HEAD", target + "?resume=hidden-key-1", nil, 404},
				row{"GET", target + "?resume=hidden-key-1", nil, 404},
			)
		}
		for _, tc := range rows {
			t.Run(tc.method+" "+tc.target, func(t *testing.T) {
				var body io.Reader
				if tc.method == "PUT" {
					body = strings.NewReader("pwned")
				}
				resp, out := e.do(t, tc.method, tc.target, tc.hdr, body)
				if resp.StatusCode != tc.want {
					t.Errorf("%s %s = %d %q, want %d", tc.method, tc.target, resp.StatusCode, out, tc.want)
				}
				e.checkNoLeak(t, resp, out)
			})
		}
		checkHiddenIntact(t, e.dir)
		if tmp := temps(t, e.dir); len(tmp) != 1 { // the fixture's own
			t.Errorf("temp files left: %q", tmp)
		}
	})
}

// TestHiddenLinksListed: listings and zips leave out links to hidden names,
// and keep links that stay visible.
func TestHiddenLinksListed(t *testing.T) {
	t.Parallel()
	bothWays(t, func(t *testing.T, mode string) {
		e := linkEnv(t, files.Config{}, mode)
		for _, tc := range []struct {
			dir  string
			want []string
		}{
			{".", []string{"docs", "docs-link", "weird", "README.rst", "link-in", "myfile1.txt", "myserver.py", "Ünï file.txt"}},
			{"docs", []string{"sub", "a.md", "index.html", "nums.txt"}},
			{"docs/sub", []string{"deep.txt"}},
		} {
			entries, err := e.store.List(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, en := range entries {
				names = append(names, en.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("List(%q) = %q, want %q", tc.dir, names, tc.want)
			}
		}
		resp, body := e.do(t, http.MethodGet, "/?zip", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /?zip = %d", resp.StatusCode)
		}
		for name, content := range readZip(t, []byte(body)) {
			if strings.Contains(content, secret) {
				t.Errorf("zip entry %s holds the secret", name)
			}
			for link := range hiddenLinks {
				for _, bad := range []string{link, "docs-link/" + strings.TrimPrefix(link, "docs/")} {
					if name == bad || strings.HasPrefix(name, bad+"/") {
						t.Errorf("zip has %s, through a link to a hidden name", name)
					}
				}
			}
		}
	})
}

// TestHiddenLinksStore: the Store's methods, which the room's list and get
// use, refuse the same names.
func TestHiddenLinksStore(t *testing.T) {
	t.Parallel()
	bothWays(t, func(t *testing.T, mode string) {
		e := linkEnv(t, files.Config{Uploads: true}, mode)
		for _, name := range []string{"envlink", "gitcfg", "chain-a", "tmplink", "docs/sneaky", "dir_to_git",
			"dir_to_git/config", "priv", "priv/notes.txt", "docs/sub/deeper/notes.txt"} {
			if _, err := e.store.Stat(name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat(%q) = %v", name, err)
			}
			if f, _, err := e.store.Open(name); !errors.Is(err, fs.ErrNotExist) {
				if err == nil {
					f.Close()
				}
				t.Errorf("Open(%q) = %v", name, err)
			}
			if _, err := e.store.List(name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("List(%q) = %v", name, err)
			}
			if err := e.store.WriteZip(discardWriter{}, name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("WriteZip(%q) = %v", name, err)
			}
			for _, ow := range []bool{false, true} {
				if _, err := e.store.Put(name, strings.NewReader("pwned"), ow); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Put(%q, overwrite %v) = %v", name, ow, err)
				}
			}
		}
		checkHiddenIntact(t, e.dir)
	})
}

// TestHiddenLinksShowHidden: with ShowHidden, a link to a dotfile is served
// like the dotfile, but a link to a temp file never is.
func TestHiddenLinksShowHidden(t *testing.T) {
	t.Parallel()
	bothWays(t, func(t *testing.T, mode string) {
		e := linkEnv(t, files.Config{ShowHidden: true, Uploads: true}, mode)
		for _, tc := range []struct {
			method, target string
			want           int
		}{
			{"GET", "/envlink", 200},
			{"GET", "/dir_to_git/config", 200},
			{"GET", "/chain-a", 200},
			{"GET", "/tmplink", 404},
			{"GET", "/tmplink?download", 404},
			{"PUT", "/tmplink?overwrite=1", 404},
			{"PUT", "/dir_to_git/new.txt", 201},
		} {
			resp, body := e.do(t, tc.method, tc.target, nil, strings.NewReader("new"))
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s = %d %q, want %d", tc.method, tc.target, resp.StatusCode, body, tc.want)
			}
			if tc.want == 404 && strings.Contains(body, secret) {
				t.Errorf("%s %s leaks the temp file", tc.method, tc.target)
			}
		}
		entries, err := e.store.List(".")
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if en.Name == "tmplink" || strings.HasPrefix(en.Name, ".filehub-tmp-") {
				t.Errorf("listed with ShowHidden: %+v", en)
			}
		}
	})
}

type discardWriter struct{}

func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
