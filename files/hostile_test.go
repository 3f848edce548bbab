package files_test

import (
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filehub/files"
)

// hostile is a request target sent byte for byte, with what GET and PUT
// (uploads on, no overwrite) must answer. storeOK marks the few targets
// that name a legitimate file inside the folder once decoded, so that
// Store.Stat and Store.Open succeed on them.
type hostile struct {
	name, target string
	get, put     int
	storeOK      bool
}

func hostileTable() []hostile {
	long := "/" + strings.Repeat("a", 5000)
	return []hostile{
		// ".." in every spelling: a lexical 400.
		{"dotdot", "/../outside/secret.txt", 400, 400, false},
		{"dotdot deep", "/../../../../../../etc/passwd", 400, 400, false},
		{"dotdot in folder", "/docs/../../outside/secret.txt", 400, 400, false},
		{"dotdot alone", "/..", 400, 400, false},
		{"dotdot trailing", "/docs/..", 400, 400, false},
		{"dot-slash-dotdot", "/./../outside/secret.txt", 400, 400, false},
		{"dotdot to inside", "/docs/../myfile1.txt", 400, 400, false}, // not cleaned: a ServeMux in front would redirect it
		{"encoded dots", "/%2e%2e/outside/secret.txt", 400, 400, false},
		{"encoded dots upper", "/%2E%2E/outside/secret.txt", 400, 400, false},
		{"encoded slash", "/%2e%2e%2foutside%2fsecret.txt", 400, 400, false},
		{"half encoded", "/.%2e/outside/secret.txt", 400, 400, false},
		{"encoded alone", "/%2e%2e", 400, 400, false},
		{"encoded in folder", "/docs%2f..%2f..%2foutside%2fsecret.txt", 400, 400, false},
		{"absolute form", "http://evil.example/../outside/secret.txt", 400, 400, false},
		// Decoded once, these are odd but harmless names that do not exist.
		{"double encoded", "/%252e%252e%252foutside%252fsecret.txt", 404, 201, false},
		{"double encoded dots", "/%252e%252e/outside/secret.txt", 404, 404, false},
		{"fullwidth dots", "/%ef%bc%8e%ef%bc%8e/outside/secret.txt", 404, 404, false},
		{"dotdot semicolon", "/docs/..;/outside/secret.txt", 404, 404, false},
		{"unicode escape", "/%u002e%u002e/outside/secret.txt", 400, 400, false}, // net/http: invalid URL escape
		// Invalid UTF-8 (overlong "." and "/"), control characters, NUL.
		{"overlong dots", "/%c0%ae%c0%ae/outside/secret.txt", 400, 400, false},
		{"overlong slash", "/..%c0%afoutside%c0%afsecret.txt", 400, 400, false},
		{"lone continuation", "/%80", 400, 400, false},
		{"invalid byte", "/%ff.txt", 400, 400, false},
		{"NUL", "/myfile1.txt%00.png", 400, 400, false},
		{"NUL alone", "/%00", 400, 400, false},
		{"raw NUL", "/a\x00b", 400, 400, false}, // net/http: control character in URL
		{"CRLF", "/a%0d%0aSet-Cookie:%20x", 400, 400, false},
		{"tab", "/my%09file.txt", 400, 400, false},
		{"DEL", "/%7f", 400, 400, false},
		{"C1 NEL", "/%c2%85", 400, 400, false},
		// Bidirectional controls: a name that reads as another.
		{"right-to-left override", "/weird/invoice%e2%80%aefdp.exe", 400, 400, false},
		{"right-to-left isolate", "/a%e2%81%a7b.txt", 400, 400, false},
		{"right-to-left mark", "/a%e2%80%8fb.txt", 400, 400, false},
		{"arabic letter mark", "/a%d8%9cb.txt", 400, 400, false},
		// Backslashes, raw and encoded.
		{"backslash", `/..\outside\secret.txt`, 400, 400, false},
		{"encoded backslash", "/..%5coutside%5csecret.txt", 400, 400, false},
		{"leading backslash", "/%5c..%5c..%5cetc%5cpasswd", 400, 400, false},
		// Absolute and empty elements.
		{"double slash", "//etc/passwd", 400, 400, false},
		{"triple slash", "///etc/passwd", 400, 400, false},
		{"encoded double slash", "/%2fetc/passwd", 400, 400, false},
		{"empty element", "/docs//a.md", 400, 400, false},
		// Hidden and reserved names: 404, as if they did not exist.
		{"git config", "/.git/config", 404, 404, false},
		{"git folder", "/.git/", 404, 400, false},
		{"dotenv", "/.env", 404, 404, false},
		{"dotfile", "/.hidden", 404, 404, false},
		{"nested dotfile", "/docs/.secret", 404, 404, false},
		{"encoded dotfile", "/%2eenv", 404, 404, false},
		{"temp file", "/.filehub-tmp-abc", 404, 404, false},
		{"reserved underscore", "/_/x", 404, 404, false},
		{"reserved underscore index", "/_/index.html", 404, 404, false},
		{"reserved underscore dir", "/_/", 404, 400, false},
		{"reserved ws", "/ws", 404, 404, false},
		{"reserved ws dir", "/ws/", 404, 400, false}, // PUT of a folder name is a 400 first
		// Long names.
		{"5000-char name", long, 400, 400, false},
		{"256-byte element", "/docs/" + strings.Repeat("b", 256), 400, 400, false},
		// Symlinks: the root refuses whatever leaves the folder.
		// PUT: a link GET hides is refused as a hidden name is (404), never
		// a 409 that reveals it (issue 20, finding 9).
		{"symlink absolute out", "/abs-link", 404, 404, false},
		{"symlink relative out", "/rel-link", 404, 404, false},
		{"symlink dir out file", "/link-dir/secret.txt", 404, 404, false},
		{"symlink dir out deep", "/link-dir/inner/deep.txt", 404, 404, false},
		{"symlink dir out list", "/link-dir/", 404, 400, false},
		{"symlink dir out bare", "/link-dir", 404, 404, false},
		{"symlink out from folder", "/docs/up-link", 404, 404, false},
		{"symlink absolute in", "/abs-in", 404, 404, false},
		{"symlink loop", "/loop-a", 404, 404, false},
		{"symlink loop inside", "/loop-a/x", 404, 404, false},
		{"symlink dangling", "/dangling", 404, 404, false},
		// Files used as folders; a missing file; benign controls.
		{"file as folder", "/myfile1.txt/x", 404, 404, false},
		{"file as folder listing", "/myfile1.txt/", 404, 400, true},
		{"outside name inside", "/secret.txt", 404, 201, false},
		{"control: dot element", "/./myfile1.txt", 200, 409, true},
		{"control: link inside", "/link-in", 200, 409, true},
		{"control: link folder inside", "/docs-link/a.md", 200, 409, true},
	}
}

// checkNoLeak fails if a response carries the secret or the server's paths.
func (e *env) checkNoLeak(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	all := body
	for k, vs := range resp.Header {
		all += k + ": " + strings.Join(vs, ",") + "\n"
	}
	for _, bad := range []string{secret, e.dir, e.outside} {
		if strings.Contains(all, bad) {
			t.Errorf("response leaks %q:\n%s", bad, all)
		}
	}
}

func TestHostileGET(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	rows := hostileTable()
	if len(rows) < 40 {
		t.Fatalf("only %d hostile rows", len(rows))
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				resp, body := e.raw(t, method, tc.target, "")
				if resp.StatusCode != tc.get {
					t.Errorf("%s %q = %d, want %d (%q)", method, tc.target, resp.StatusCode, tc.get, body)
				}
				e.checkNoLeak(t, resp, body)
			}
		})
	}
}

// TestHostileStore sends the decoded targets straight to the Store: the
// lexical check and the root must hold without net/http in front.
func TestHostileStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{cfg: files.Config{Uploads: true}})
	for _, tc := range hostileTable() {
		u, err := url.ParseRequestURI(tc.target)
		if err != nil || u.Host != "" {
			continue // net/http refuses these before any handler runs
		}
		name := u.Path
		t.Run(tc.name, func(t *testing.T) {
			refused := func(op string, err error) {
				t.Helper()
				if code := files.HTTPStatus(err); code != 400 && code != 404 {
					t.Errorf("%s(%q) = %v (status %d), want 400 or 404", op, name, err, code)
				}
			}
			_, err := e.store.Stat(name)
			f, _, openErr := e.store.Open(name)
			if openErr == nil {
				f.Close()
			}
			if tc.storeOK {
				if err != nil {
					t.Errorf("Stat(%q) = %v, want success", name, err)
				}
			} else {
				refused("Stat", err)
				refused("Open", openErr)
				_, err = e.store.List(name)
				refused("List", err)
			}
			if tc.put == 201 {
				return // a legitimate new name; creation is covered by TestHostilePUT
			}
			_, err = e.store.Put(name, strings.NewReader("pwned"), false)
			if code := files.HTTPStatus(err); err == nil || code >= 500 {
				t.Errorf("Put(%q) = %v (status %d), want refused", name, err, code)
			}
		})
	}
	e.checkOutside(t)
}

func TestHostilePUT(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{cfg: files.Config{Uploads: true}})
	for _, tc := range hostileTable() {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.raw(t, http.MethodPut, tc.target, "pwned by "+tc.name)
			if resp.StatusCode != tc.put {
				t.Errorf("PUT %q = %d, want %d (%q)", tc.target, resp.StatusCode, tc.put, body)
			}
			e.checkNoLeak(t, resp, body)
		})
	}
	// With overwrite too, a link GET hides is a 404 and stays as it was;
	// its target outside is never written through.
	for _, link := range []string{"/abs-link", "/rel-link", "/docs/up-link", "/link-dir"} {
		resp, body := e.raw(t, http.MethodPut, link+"?overwrite=1", "replaced")
		if resp.StatusCode != 404 {
			t.Errorf("PUT %s?overwrite=1 = %d %q, want 404", link, resp.StatusCode, body)
		}
		fi, err := os.Lstat(filepath.Join(e.dir, filepath.FromSlash(link)))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%s after overwrite: %v, %v", link, fi, err)
		}
	}
	e.checkOutside(t)
	if tmp := temps(t, e.dir); len(tmp) != 1 { // only the fixture's own .filehub-tmp-abc
		t.Errorf("temp files left: %q", tmp)
	}
}

// checkOutside fails if anything in the folder beside the served one changed.
func (e *env) checkOutside(t *testing.T) {
	t.Helper()
	var found []string
	err := filepath.WalkDir(e.outside, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil || string(b) != secret {
				t.Errorf("%s changed: %q %v", p, b, err)
			}
		}
		found = append(found, p)
		return nil
	})
	if err != nil || len(found) != 4 { // outside, secret.txt, inner, inner/deep.txt
		t.Errorf("outside folder now holds %q (%v)", found, err)
	}
}

// temps lists the temp files of uploads anywhere under dir.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed while we walk
				return nil
			}
			return err
		}
		if strings.HasPrefix(d.Name(), ".filehub-tmp-") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
