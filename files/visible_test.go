package files_test

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filehub/files"
)

// lookalikes are names that read as another name, or as nothing: each is
// refused wherever someone chooses a name (issue 20, finding 10).
var lookalikes = map[string]string{
	"zero-width space":     "a\u200bb.txt",
	"BOM":                  "\ufeffa.txt",
	"line separator":       "a\u2028b.txt",
	"paragraph separator":  "a\u2029b.txt",
	"tag characters":       "a\U000e0041\U000e007f.txt",
	"ideographic space":    "a\u3000b.txt",
	"NBSP":                 "a\u00a0b.txt",
	"leading space":        " .env",
	"trailing space":       "x ",
	"trailing tab":         "x\t",
	"grapheme joiner":      "alice\u034f",
	"hangul filler":        "\u3164",
	"hangul choseong fill": "\u115f.txt",
	"soft hyphen":          "in\u00advoice.pdf",
	"word joiner":          "a\u2060b",
	"variation selector":   "e\ufe0f.txt",
	"joiner after letter":  "a\u200db.txt",
}

// plainNames must stay writable: the rule is not a ban on non-ASCII.
var plainNames = []string{
	"sp ace.txt", "日本語.txt", "Ünï.txt", "❤️.txt", "👩‍💻 notes.md", "🏳️‍🌈.png", "a-b_c (1).txt",
}

func TestCheckVisible(t *testing.T) {
	t.Parallel()
	for why, name := range lookalikes {
		if err := files.CheckVisible(name); !errors.Is(err, files.ErrBadPath) {
			t.Errorf("%s: CheckVisible(%q) = %v, want ErrBadPath", why, name, err)
		}
		if err := files.ValidName(name); !errors.Is(err, files.ErrBadPath) {
			t.Errorf("%s: ValidName(%q) = %v, want ErrBadPath", why, name, err)
		}
	}
	for _, name := range plainNames {
		if err := files.CheckVisible(name); err != nil {
			t.Errorf("CheckVisible(%q) = %v", name, err)
		}
	}
}

// TestPutLookalikeNames: a PUT of an invisible or lookalike name is a 400
// and leaves nothing; a plain non-ASCII name is created.
func TestPutLookalikeNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{cfg: files.Config{Uploads: true}})
	for why, name := range lookalikes {
		for _, q := range []string{"", "?overwrite=1", "?resume=lookalike-key"} {
			var hdr map[string]string
			if q != "" && q[1] == 'r' {
				hdr = map[string]string{"Content-Range": "bytes 0-0/1"}
			}
			resp, body := e.do(t, "PUT", "/docs/"+url.PathEscape(name)+q, hdr, strings.NewReader("x"))
			if resp.StatusCode != 400 {
				t.Errorf("%s: PUT %q%s = %d %q, want 400", why, name, q, resp.StatusCode, body)
			}
		}
		if _, err := os.Lstat(filepath.Join(e.dir, "docs", name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %q exists (%v)", why, name, err)
		}
	}
	for _, name := range plainNames {
		resp, body := e.do(t, "PUT", "/docs/"+url.PathEscape(name), nil, strings.NewReader("x"))
		if resp.StatusCode != 201 {
			t.Errorf("PUT %q = %d %q, want 201", name, resp.StatusCode, body)
		}
	}
	if tmp := temps(t, e.dir); len(tmp) != 1 { // the fixture's own
		t.Errorf("temp files left: %q", tmp)
	}
}

// TestInvisibleLinksPUT: a link GET calls missing (out of the folder,
// broken, a loop) is, for PUT, what a hidden name is: 404 with or without
// overwrite, never a 200 that replaced it nor a 409 that revealed it, and
// the link stays (issue 20, finding 9).
func TestInvisibleLinksPUT(t *testing.T) {
	t.Parallel()
	bothWays(t, func(t *testing.T, mode string) {
		e := linkEnv(t, files.Config{Uploads: true}, mode)
		links := []string{"abs-link", "rel-link", "loop-a", "loop-b", "dangling", "docs/up-link", "abs-in"}
		before := map[string]string{}
		for _, l := range links {
			to, err := os.Readlink(filepath.Join(e.dir, filepath.FromSlash(l)))
			if err != nil {
				t.Fatal(err)
			}
			before[l] = to
		}
		for _, l := range links {
			if resp, body := e.do(t, "GET", "/"+l, nil, nil); resp.StatusCode != 404 {
				t.Fatalf("GET %s = %d %q: the fixture is not what this test is about", l, resp.StatusCode, body)
			}
			for _, q := range []string{"", "?overwrite=1", "?resume=link-key-1", "?resume=link-key-2&overwrite=1"} {
				var hdr map[string]string
				if strings.Contains(q, "resume") {
					hdr = map[string]string{"Content-Range": "bytes 0-7/8"}
				}
				resp, body := e.do(t, "PUT", "/"+l+q, hdr, strings.NewReader("replaced"))
				if resp.StatusCode != 404 {
					t.Errorf("PUT /%s%s = %d %q, want 404 as for a hidden name", l, q, resp.StatusCode, body)
				}
			}
		}
		for l, to := range before {
			if got, err := os.Readlink(filepath.Join(e.dir, filepath.FromSlash(l))); err != nil || got != to {
				t.Errorf("link %s now %q (%v), was %q", l, got, err, to)
			}
		}
		if got := readFile(t, filepath.Join(e.outside, "secret.txt")); got != secret {
			t.Errorf("outside secret now %q", got)
		}
		// A link GET follows stays a name that exists: 409 without overwrite.
		if resp, body := e.do(t, "PUT", "/link-in", nil, strings.NewReader("x")); resp.StatusCode != 409 {
			t.Errorf("PUT /link-in = %d %q, want 409", resp.StatusCode, body)
		}
	})
}
