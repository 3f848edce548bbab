package files_test

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"filehub/files"
)

// readZip opens a zip archive and returns its entries' contents by name
// ("" for folders), failing on any name that could leave the folder it is
// unzipped into.
func readZip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip archive: %v", err)
	}
	out := make(map[string]string)
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, "/")
		if !filepath.IsLocal(name) || strings.ContainsAny(f.Name, `\`) || path.Clean(name) != name || strings.HasPrefix(f.Name, "/") {
			t.Errorf("unsafe entry name %q", f.Name)
		}
		if _, dup := out[name]; dup {
			t.Errorf("entry %q twice", f.Name)
		}
		if f.FileInfo().IsDir() {
			out[name] = ""
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc) // checks the CRC too
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out[name] = string(body)
	}
	return out
}

// TestZip downloads folders as zip archives: exactly what the HTTP side
// serves, no dotfile, temp file, reserved name or symlink out, and names
// that stay inside the folder.
func TestZip(t *testing.T) {
	t.Parallel()
	fetches := make(chan string, 8)
	e := newEnv(t, opts{
		hooks: files.Hooks{OnFetch: func(r *http.Request, p string, n int64) { fetches <- p }},
		setup: func(t *testing.T, dir string) {
			// A link back up (a loop for a naive walk), and a FIFO that
			// would block a reader forever.
			if err := os.Symlink("..", filepath.Join(dir, "docs", "sub", "up")); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(filepath.Join(dir, "docs", "pipe"), 0o644); err != nil {
				t.Log("no FIFO:", err)
			}
		},
	})
	docs := map[string]string{
		"a.md": "# A\n", "nums.txt": nums, "index.html": "<h1>never served in place of the listing</h1>",
		"sub": "", "sub/deep.txt": "deep\n",
	}
	root := map[string]string{
		"myfile1.txt": "hello from myfile1\n", "myserver.py": pySrc, "README.rst": readme,
		"Ünï file.txt": "a file with a non-ASCII name\n", "link-in": "hello from myfile1\n",
		"weird": "", "weird/<b>x.txt": "x", "weird/a:b.txt": "y", "weird/sp ace.txt": "z",
	}
	for name, body := range docs {
		root["docs/"+name] = body
		root["docs-link/"+name] = body // an in-folder link to a folder is a folder
	}
	root["docs"], root["docs-link"] = "", ""

	for _, tc := range []struct {
		target, file, fetch string
		want                map[string]string
	}{
		{"/docs/?zip", "docs.zip", "docs/?zip", docs},
		{"/?zip", "served.zip", "?zip", root},
	} {
		t.Run(tc.target, func(t *testing.T) {
			resp, body := e.do(t, http.MethodGet, tc.target, nil, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" ||
				resp.Header.Get("Content-Disposition") != `attachment; filename=`+tc.file {
				t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
			}
			got := readZip(t, []byte(body))
			for name, content := range got {
				if strings.Contains(content, secret) {
					t.Errorf("%s holds the secret", name)
				}
				if want, ok := tc.want[name]; !ok {
					t.Errorf("unexpected entry %q", name)
				} else if content != want {
					t.Errorf("%s = %q, want %q", name, content, want)
				}
			}
			for name := range tc.want {
				if _, ok := got[name]; !ok {
					t.Errorf("missing entry %q", name)
				}
			}
			if f := <-fetches; f != tc.fetch {
				t.Errorf("OnFetch %q, want %q", f, tc.fetch)
			}
		})
	}
	for _, tc := range []struct {
		method, target string
		want           int
		loc            string
	}{
		{"HEAD", "/docs/?zip", 200, ""},
		{"GET", "/docs?zip", 301, "/docs/?zip"},
		{"GET", "/nope/?zip", 404, ""},
		{"GET", "/.git/?zip", 404, ""},
		{"GET", "/link-dir/?zip", 404, ""}, // a link out of the folder
		{"GET", "/_/?zip", 404, ""},
		{"GET", "/myfile1.txt/?zip", 404, ""},
	} {
		resp, body := e.do(t, tc.method, tc.target, nil, nil)
		if resp.StatusCode != tc.want || resp.Header.Get("Location") != tc.loc || (tc.want != 200 && strings.Contains(body, secret)) {
			t.Errorf("%s %s = %d %q (Location %q), want %d", tc.method, tc.target, resp.StatusCode, body, resp.Header.Get("Location"), tc.want)
		}
		if tc.method == "HEAD" && body != "" {
			t.Errorf("HEAD ?zip has a body")
		}
	}
	if len(fetches) != 0 {
		t.Errorf("OnFetch for a zip not sent: %q", <-fetches)
	}
	// The HTML listing offers the zip.
	if _, page := e.do(t, http.MethodGet, "/docs/", nil, nil); !strings.Contains(page, `href="./?zip"`) {
		t.Errorf("listing has no zip link")
	}
}

// TestZipHidden: with ShowHidden, dotfiles are in the zip, but temp files
// and partial uploads never are.
func TestZipHidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{cfg: files.Config{ShowHidden: true}})
	resp, body := e.do(t, http.MethodGet, "/?zip", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	got := readZip(t, []byte(body))
	names := make([]string, 0, len(got))
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	if _, ok := got[".env"]; !ok {
		t.Errorf(".env missing with ShowHidden: %q", names)
	}
	for _, n := range names {
		if strings.Contains(n, ".filehub-tmp-") || strings.HasPrefix(n, "_/") || n == "ws" || strings.Contains(n, "secret.txt") {
			t.Errorf("entry %q must never be in a zip", n)
		}
	}
}
