package files_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"filehub/files"
	"filehub/internal/testutil"
)

// secret is the content of every file the server must never serve: files
// outside the folder, dotfiles, reserved names, temp files. A response that
// contains it is a leak, whatever its status.
const secret = "SECRET-4b1d9e7c-must-never-be-served"

const (
	readme = "Ünïcödé — ✓\n===========\n\nRésumé: naïve café, 日本語, emoji 🎉.\n"
	pySrc  = "import http.server\n\nhttp.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler)\n"
	nums   = "0123456789abcdefghij" // 20 bytes, for ranges
)

// env is a served folder with the lab fixture, a folder beside it holding
// the secret, an open Store and a real HTTP server in front of it.
type env struct {
	dir     string // the served folder
	outside string // next to it, never reachable
	store   *files.Store
	srv     *httptest.Server
}

type opts struct {
	cfg   files.Config
	hooks files.Hooks
	setup func(t *testing.T, dir string) // runs before files.Open
	wrap  func(http.Handler) http.Handler
}

func newEnv(t *testing.T, o opts) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{dir: filepath.Join(base, "served"), outside: filepath.Join(base, "outside")}
	writeFile(t, filepath.Join(e.outside, "secret.txt"), secret)
	writeFile(t, filepath.Join(e.outside, "inner", "deep.txt"), secret)
	writeLab(t, e.dir, e.outside)
	if o.setup != nil {
		o.setup(t, e.dir)
	}
	if o.cfg.Logger == nil {
		o.cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := files.Open(e.dir, o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.store = s
	var h http.Handler = files.Handler(s, o.hooks)
	if o.wrap != nil {
		h = o.wrap(h)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close) // before s.Close: cleanups run last-in first-out
	return e
}

// writeLab builds the fixture: the lab URLs, a few folders, and everything
// that must stay hidden (holding the secret), including symlinks that
// leave the folder.
func writeLab(t *testing.T, dir, outside string) {
	t.Helper()
	for name, body := range map[string]string{
		"myfile1.txt":       "hello from myfile1\n",
		"myserver.py":       pySrc,
		"README.rst":        readme,
		"Ünï file.txt":      "a file with a non-ASCII name\n",
		"docs/a.md":         "# A\n",
		"docs/nums.txt":     nums,
		"docs/index.html":   "<h1>never served in place of the listing</h1>",
		"docs/sub/deep.txt": "deep\n",
		"weird/<b>x.txt":    "x",
		"weird/a:b.txt":     "y",
		"weird/sp ace.txt":  "z",
		// Shows as "invoiceexe.pdf": a bidirectional override, refused.
		"weird/invoice\u202efdp.exe": secret,
		".env":                       secret,
		".hidden":                    secret,
		".git/config":                secret,
		"docs/.secret":               secret,
		".filehub-tmp-abc":           secret,
		"_/x":                        secret,
		"_/index.html":               secret,
		"ws":                         secret,
	} {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(name)), body)
	}
	for link, target := range map[string]string{
		"abs-link":     filepath.Join(outside, "secret.txt"),
		"rel-link":     "../outside/secret.txt",
		"link-dir":     "../outside",
		"abs-in":       filepath.Join(dir, "myfile1.txt"), // os.Root refuses absolute links
		"loop-a":       "loop-b",
		"loop-b":       "loop-a",
		"dangling":     "no-such-file",
		"docs/up-link": "../../outside/secret.txt",
		"link-in":      "myfile1.txt",
		"docs-link":    "docs",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, name, body string) { t.Helper(); testutil.WriteFile(t, name, body) }

// do sends one request with the server's client and reads the whole body.
func (e *env) do(t *testing.T, method, target string, hdr map[string]string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := *e.srv.Client()
	c.Timeout = 10 * time.Second
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// raw writes a request line exactly as given, so that no client library
// cleans or re-encodes the target, and reads the response.
func (e *env) raw(t *testing.T, method, target, body string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	if method == http.MethodPut {
		req += fmt.Sprintf("Content-Length: %d\r\n", len(body))
	}
	if _, err := io.WriteString(conn, req+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestLabURLs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	for _, tc := range []struct{ path, body, ctype string }{
		{"/myfile1.txt", "hello from myfile1\n", "text/plain; charset=utf-8"},
		{"/myserver.py", pySrc, "text/plain; charset=utf-8"},
		{"/README.rst", readme, "text/plain; charset=utf-8"},
		{"/docs/a.md", "# A\n", "text/plain; charset=utf-8"},
		{"/%C3%9Cn%C3%AF%20file.txt", "a file with a non-ASCII name\n", "text/plain; charset=utf-8"},
		{"/docs/index.html", "<h1>never served in place of the listing</h1>", "text/html; charset=utf-8"},
		{"/link-in", "hello from myfile1\n", "application/octet-stream"}, // an in-folder symlink is fine
		{"/docs-link/a.md", "# A\n", "text/plain; charset=utf-8"},
		{"/./myfile1.txt", "hello from myfile1\n", "text/plain; charset=utf-8"}, // "." elements are dropped
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := e.do(t, http.MethodGet, tc.path, nil, nil)
			if resp.StatusCode != http.StatusOK || body != tc.body {
				t.Fatalf("GET %s = %d %q, want 200 %q", tc.path, resp.StatusCode, body, tc.body)
			}
			for k, want := range map[string]string{
				"Content-Type":            tc.ctype,
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "sandbox",
				"Cache-Control":           "no-cache",
				"Content-Length":          fmt.Sprint(len(tc.body)),
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" {
				t.Errorf("no validators: %v", resp.Header)
			}
			if resp.Header.Get("Content-Disposition") != "" {
				t.Errorf("Content-Disposition without ?download")
			}
		})
	}
}

func TestRanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	for _, tc := range []struct {
		rng, wantRange string
		want           int
		body           string // "" for "don't check"
	}{
		{"bytes=0-4", "bytes 0-4/20", 206, "01234"},
		{"bytes=-5", "bytes 15-19/20", 206, "fghij"},
		{"bytes=15-", "bytes 15-19/20", 206, "fghij"},
		{"bytes=0-100", "bytes 0-19/20", 206, nums},
		{"bytes=19-19", "bytes 19-19/20", 206, "j"},
		{"bytes=5-2", "", 416, ""},            // reversed: net/http calls it invalid
		{"bytes=100-", "bytes */20", 416, ""}, // no overlap
		{"bytes=20-", "bytes */20", 416, ""},
		{"bytes=-0", "bytes 20-19/20", 206, ""}, // net/http: an empty suffix range, not 416
		{"bytes=abc", "", 416, ""},
		{"items=0-4", "", 416, ""}, // net/http refuses unknown units rather than ignoring them
		{"bytes=0-1,4-5", "", 206, ""},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			resp, body := e.do(t, http.MethodGet, "/docs/nums.txt", map[string]string{"Range": tc.rng}, nil)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tc.want, body)
			}
			if got := resp.Header.Get("Content-Range"); got != tc.wantRange {
				t.Errorf("Content-Range %q, want %q", got, tc.wantRange)
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
		})
	}
	t.Run("multipart", func(t *testing.T) {
		resp, body := e.do(t, http.MethodGet, "/docs/nums.txt", map[string]string{"Range": "bytes=0-1,4-5"}, nil)
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if mt != "multipart/byteranges" || !strings.Contains(body, "01") || !strings.Contains(body, "45") ||
			!strings.Contains(body, "Content-Type: text/plain; charset=utf-8") {
			t.Errorf("multipart: %s\n%s", resp.Header.Get("Content-Type"), body)
		}
	})
}

func TestConditional(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	resp, _ := e.do(t, http.MethodGet, "/myfile1.txt", nil, nil)
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
		t.Fatalf("ETag %q is not quoted", etag)
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
		body string
	}{
		{"If-None-Match", map[string]string{"If-None-Match": etag}, 304, ""},
		{"If-None-Match list", map[string]string{"If-None-Match": `"nope", ` + etag}, 304, ""},
		{"If-None-Match *", map[string]string{"If-None-Match": "*"}, 304, ""},
		{"If-None-Match other", map[string]string{"If-None-Match": `"other"`}, 200, "hello from myfile1\n"},
		{"If-Modified-Since", map[string]string{"If-Modified-Since": lastMod}, 304, ""},
		{"If-Modified-Since old", map[string]string{"If-Modified-Since": "Mon, 02 Jan 2006 15:04:05 GMT"}, 200, "hello from myfile1\n"},
		{"If-Range match", map[string]string{"If-Range": etag, "Range": "bytes=0-4"}, 206, "hello"},
		{"If-Range stale", map[string]string{"If-Range": `"old"`, "Range": "bytes=0-4"}, 200, "hello from myfile1\n"},
		{"If-Match other", map[string]string{"If-Match": `"other"`}, 412, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, http.MethodGet, "/myfile1.txt", tc.hdr, nil)
			if resp.StatusCode != tc.want || (tc.want != 412 && body != tc.body) {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.want, tc.body)
			}
		})
	}
}

func TestHead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	resp, body := e.do(t, http.MethodHead, "/README.rst", nil, nil)
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(readme)) {
		t.Fatalf("HEAD = %d, len %d, body %q; want 200, %d, empty", resp.StatusCode, resp.ContentLength, body, len(readme))
	}
	if resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("ETag") == "" {
		t.Errorf("headers %v", resp.Header)
	}
}

func TestDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	for _, tc := range []struct{ target, name, want string }{
		{"/myfile1.txt?download", "myfile1.txt", "attachment; filename=myfile1.txt"},
		{"/myfile1.txt?download=1", "myfile1.txt", "attachment; filename=myfile1.txt"},
		{"/%C3%9Cn%C3%AF%20file.txt?download", "Ünï file.txt", "attachment; filename*=utf-8''%C3%9Cn%C3%AF%20file.txt"},
		{"/weird/sp%20ace.txt?download", "sp ace.txt", `attachment; filename="sp ace.txt"`},
	} {
		t.Run(tc.target, func(t *testing.T) {
			resp, _ := e.do(t, http.MethodGet, tc.target, nil, nil)
			cd := resp.Header.Get("Content-Disposition")
			if cd != tc.want {
				t.Errorf("Content-Disposition %q, want %q", cd, tc.want)
			}
			disp, params, err := mime.ParseMediaType(cd)
			if err != nil || disp != "attachment" || params["filename"] != tc.name {
				t.Errorf("parsed %q %v %v, want filename %q", disp, params, err, tc.name)
			}
		})
	}
}

func TestRedirectDir(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{setup: func(t *testing.T, dir string) {
		writeFile(t, filepath.Join(dir, "dïr", "f.txt"), "f")
	}})
	for _, tc := range []struct{ target, loc string }{
		{"/docs", "/docs/"},
		{"/docs?x=1&y=%20", "/docs/?x=1&y=%20"},
		{"/docs/sub", "/docs/sub/"},
		{"/d%C3%AFr", "/d%C3%AFr/"},
		{"/docs-link", "/docs-link/"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			resp, _ := e.do(t, http.MethodGet, tc.target, nil, nil)
			if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != tc.loc {
				t.Fatalf("got %d %q, want 301 %q", resp.StatusCode, resp.Header.Get("Location"), tc.loc)
			}
		})
	}
}

type jsonListing struct {
	Path    string       `json:"path"`
	Entries []files.Info `json:"entries"`
}

func TestListJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	for _, tc := range []struct {
		target, path string
		names        []string
	}{
		{"/", "", []string{"docs", "docs-link", "weird", "README.rst", "link-in", "myfile1.txt", "myserver.py", "Ünï file.txt"}},
		{"/docs/", "docs/", []string{"sub", "a.md", "index.html", "nums.txt"}},
		{"/docs-link/sub/", "docs-link/sub/", []string{"deep.txt"}},
		{"/weird/", "weird/", []string{"<b>x.txt", "a:b.txt", "sp ace.txt"}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			resp, body := e.do(t, http.MethodGet, tc.target, map[string]string{"Accept": "application/json, text/plain"}, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Vary") != "Accept" {
				t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
			}
			var l jsonListing
			if err := json.Unmarshal([]byte(body), &l); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, en := range l.Entries {
				names = append(names, en.Name)
			}
			if l.Path != tc.path || !slices.Equal(names, tc.names) {
				t.Fatalf("path %q names %q, want %q %q", l.Path, names, tc.path, tc.names)
			}
			if strings.Contains(body, secret) || strings.Contains(body, "abs-link") || strings.Contains(body, e.dir) {
				t.Errorf("listing leaks: %s", body)
			}
		})
	}
	t.Run("types", func(t *testing.T) {
		_, body := e.do(t, http.MethodGet, "/docs/", map[string]string{"Accept": "application/json"}, nil)
		var l jsonListing
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
		want := []files.Info{
			{Path: "docs/sub", Name: "sub", Dir: true, Type: "inode/directory"},
			{Path: "docs/a.md", Name: "a.md", Size: 4, Type: "text/plain; charset=utf-8"},
			{Path: "docs/index.html", Name: "index.html", Size: 45, Type: "text/html; charset=utf-8"},
			{Path: "docs/nums.txt", Name: "nums.txt", Size: 20, Type: "text/plain; charset=utf-8"},
		}
		for i := range l.Entries {
			if l.Entries[i].Modified.IsZero() {
				t.Errorf("%s: no modification time", l.Entries[i].Name)
			}
			l.Entries[i].Modified = time.Time{}
		}
		if !slices.Equal(l.Entries, want) {
			t.Errorf("entries\n%+v\nwant\n%+v", l.Entries, want)
		}
	})
}

func TestListHTML(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	resp, body := e.do(t, http.MethodGet, "/weird/", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{
		`<a href="../">`,
		`<a href="./%3Cb%3Ex.txt">&lt;b&gt;x.txt</a>`,
		`<a href="./a:b.txt">a:b.txt</a>`,
		`<a href="./sp%20ace.txt">sp ace.txt</a>`,
		"<title>Index of /weird/</title>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("listing lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<b>x") {
		t.Errorf("unescaped name in listing:\n%s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("listing CSP %q", csp)
	}

	_, root := e.do(t, http.MethodGet, "/", nil, nil)
	if strings.Contains(root, `href="../"`) {
		t.Errorf("root listing links to its parent")
	}
	docs := strings.Index(root, `href="./docs/"`)
	readme := strings.Index(root, `href="./README.rst"`)
	if docs < 0 || readme < 0 || docs > readme {
		t.Errorf("folders not first (docs at %d, README at %d):\n%s", docs, readme, root)
	}
	_, d := e.do(t, http.MethodGet, "/docs/", nil, nil)
	if !strings.Contains(d, "Index of /docs/") || strings.Contains(d, "never served in place") {
		t.Errorf("/docs/ is not a listing:\n%s", d)
	}
}

func TestErrorsAreGeneric(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	for _, tc := range []struct {
		method, target string
		want           int
		body           string
	}{
		{"GET", "/nope.txt", 404, "404 not found\n"},
		{"GET", "/docs/nope/", 404, "404 not found\n"},
		{"GET", "/myfile1.txt/", 404, "404 not found\n"},
		{"GET", "/a%00b", 400, "400 bad request\n"},
		{"PUT", "/x.txt", 403, "403 forbidden\n"},
		{"DELETE", "/myfile1.txt", 405, "405 method not allowed\n"},
		{"POST", "/myfile1.txt", 405, "405 method not allowed\n"},
	} {
		t.Run(tc.method+tc.target, func(t *testing.T) {
			resp, body := e.do(t, tc.method, tc.target, nil, strings.NewReader("x"))
			if resp.StatusCode != tc.want || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.want, tc.body)
			}
		})
	}
}

func TestOnFetch(t *testing.T) {
	t.Parallel()
	type fetch struct {
		path  string
		bytes int64
	}
	got := make(chan fetch, 16)
	e := newEnv(t, opts{hooks: files.Hooks{OnFetch: func(r *http.Request, path string, n int64) {
		got <- fetch{path, n}
	}}})
	// One client, one connection at a time: each request's callback has
	// run before the next request is read, so the order is the order sent.
	for _, tc := range []struct {
		method, target string
		hdr            map[string]string
		want           *fetch
	}{
		{"GET", "/docs/nums.txt", nil, &fetch{"docs/nums.txt", 20}},
		{"HEAD", "/docs/nums.txt", nil, nil},
		{"GET", "/docs/nums.txt", map[string]string{"Range": "bytes=2-5"}, &fetch{"docs/nums.txt", 4}},
		{"GET", "/docs/nums.txt", map[string]string{"If-Modified-Since": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, nil},
		{"GET", "/docs/nums.txt", map[string]string{"Range": "bytes=99-"}, nil},
		{"GET", "/nope", nil, nil},
		{"GET", "/docs/", nil, nil},
		{"GET", "/%C3%9Cn%C3%AF%20file.txt", nil, &fetch{"Ünï file.txt", 29}},
	} {
		e.do(t, tc.method, tc.target, tc.hdr, nil)
		if tc.want == nil {
			continue
		}
		select {
		case f := <-got:
			if f != *tc.want {
				t.Errorf("%s %s: OnFetch %+v, want %+v", tc.method, tc.target, f, *tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s %s: no OnFetch", tc.method, tc.target)
		}
	}
	if len(got) != 0 {
		t.Errorf("extra OnFetch: %+v", <-got)
	}
}

// TestSendPaths serves files on both sides of SmallFile (read and write
// below it, sendfile above): whole, a range and two ranges, byte for byte,
// with the bytes sent counted for the feed.
func TestSendPaths(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 1, files.SmallFile - 1, files.SmallFile, files.SmallFile + 1, 1 << 20}
	content := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + i*7%26)
		}
		return b
	}
	got := make(chan int64, 4)
	e := newEnv(t, opts{
		setup: func(t *testing.T, dir string) {
			for _, n := range sizes {
				writeFile(t, filepath.Join(dir, "sizes", strconv.Itoa(n)), string(content(n)))
			}
		},
		hooks: files.Hooks{OnFetch: func(r *http.Request, path string, n int64) { got <- n }},
	})
	for _, n := range sizes {
		want := content(n)
		for _, tc := range []struct {
			name, rng string
			body      []byte
			status    int
		}{
			{"whole", "", want, 200},
			{"tail", "bytes=-1", want[max(n-1, 0):], 206},
			{"middle", "bytes=1-2", want[min(1, n):min(3, n)], 206},
		} {
			if n < 3 && tc.rng != "" {
				continue // bytes=1-2 starts past a 1-byte file (416, TestRanges)
			}
			t.Run(strconv.Itoa(n)+"/"+tc.name, func(t *testing.T) {
				var hdr map[string]string
				if tc.rng != "" {
					hdr = map[string]string{"Range": tc.rng}
				}
				resp, body := e.do(t, http.MethodGet, "/sizes/"+strconv.Itoa(n), hdr, nil)
				if resp.StatusCode != tc.status || body != string(tc.body) {
					t.Fatalf("status %d, %d bytes; want %d, %d bytes", resp.StatusCode, len(body), tc.status, len(tc.body))
				}
				select {
				case c := <-got:
					if c != int64(len(tc.body)) {
						t.Errorf("counted %d bytes sent, want %d", c, len(tc.body))
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no OnFetch")
				}
			})
		}
		if n < 3 {
			continue
		}
		t.Run(strconv.Itoa(n)+"/two ranges", func(t *testing.T) {
			resp, body := e.do(t, http.MethodGet, "/sizes/"+strconv.Itoa(n), map[string]string{"Range": "bytes=0-0,2-2"}, nil)
			<-got
			mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if resp.StatusCode != 206 || mt != "multipart/byteranges" {
				t.Fatalf("status %d, %s", resp.StatusCode, mt)
			}
			mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
			for _, w := range [][]byte{want[0:1], want[2:3]} {
				p, err := mr.NextPart()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(p)
				if string(b) != string(w) {
					t.Errorf("part %q, want %q", b, w)
				}
			}
		})
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	s := e.store

	if cfg := s.Config(); cfg.MaxUpload != 1<<30 || cfg.Logger == nil || cfg.Uploads || cfg.ShowHidden {
		t.Errorf("defaults: %+v", cfg)
	}
	root, err := s.Stat("")
	if err != nil || root.Path != "." || !root.Dir || root.Name != "" || root.Type != "inode/directory" {
		t.Errorf("Stat root = %+v, %v", root, err)
	}
	if _, _, err := s.Open("docs"); !errors.Is(err, files.ErrIsDir) {
		t.Errorf("Open(docs) = %v, want ErrIsDir", err)
	}
	f, info, err := s.Open("/docs/nums.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != nums || info.Path != "docs/nums.txt" || info.Size != 20 || info.Name != "nums.txt" {
		t.Errorf("Open = %q %+v", b, info)
	}
	if _, err := s.List("myfile1.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List(file) = %v, want not exist", err)
	}
	if _, err := s.Put("x.txt", strings.NewReader("x"), false); !errors.Is(err, files.ErrForbidden) {
		t.Errorf("Put with uploads off = %v", err)
	}

	if _, err := files.Open(filepath.Join(e.dir, "nope"), files.Config{}); err == nil {
		t.Error("Open(missing) succeeded")
	}
	if _, err := files.Open(filepath.Join(e.dir, "myfile1.txt"), files.Config{}); err == nil {
		t.Error("Open(file) succeeded")
	}

	hidden, err := files.Open(e.dir, files.Config{ShowHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hidden.Close()
	for name, want := range map[string]error{".env": nil, ".git/config": nil, ".filehub-tmp-abc": fs.ErrNotExist, "_/x": fs.ErrNotExist} {
		if _, err := hidden.Stat(name); !errors.Is(err, want) && err != want {
			t.Errorf("ShowHidden Stat(%q) = %v, want %v", name, err, want)
		}
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	s, err := files.Open(base, files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	long := strings.Repeat("a", 255)
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"", ".", nil},
		{"/", ".", nil},
		{".", ".", nil},
		{"/.", ".", nil},
		{"./", ".", nil},
		{"docs/a.md", "docs/a.md", nil},
		{"/docs/a.md", "docs/a.md", nil},
		{"docs/", "docs", nil},
		{"/docs/./a.md", "docs/a.md", nil},
		{"./a", "a", nil},
		{"a/.", "a", nil},
		{"_x/y", "_x/y", nil},
		{"docs/_", "docs/_", nil},
		{"ws/x", "ws/x", nil}, // only the path "ws" itself is the WebSocket
		{"wss", "wss", nil},
		{"Ünïcödé — ✓.rst", "Ünïcödé — ✓.rst", nil},
		{"．．/x", "．．/x", nil}, // fullwidth dots are just a name
		{long, long, nil},
		{"a/" + long, "a/" + long, nil},
		{"...", "", fs.ErrNotExist},
		{".env", "", fs.ErrNotExist},
		{"docs/.git/config", "", fs.ErrNotExist},
		{"_", "", fs.ErrNotExist},
		{"/_/", "", fs.ErrNotExist},
		{"_/x", "", fs.ErrNotExist},
		{"ws", "", fs.ErrNotExist},
		{"/ws/", "", fs.ErrNotExist},
		{"./ws", "", fs.ErrNotExist},
		{".filehub-tmp-x", "", fs.ErrNotExist},
		{"..", "", files.ErrBadPath},
		{"../x", "", files.ErrBadPath},
		{"a/../b", "", files.ErrBadPath},
		{"a/..", "", files.ErrBadPath},
		{".git/../x", "", files.ErrBadPath}, // a 400 wins over a 404
		{"//etc/passwd", "", files.ErrBadPath},
		{"a//b", "", files.ErrBadPath},
		{"a//", "", files.ErrBadPath},
		{"a\\b", "", files.ErrBadPath},
		{"a\x00b", "", files.ErrBadPath},
		{"a\nb", "", files.ErrBadPath},
		{"a\x7fb", "", files.ErrBadPath},
		{"a\u0085b", "", files.ErrBadPath},
		{"a\xffb", "", files.ErrBadPath},
		{"\xc0\xae\xc0\xae/x", "", files.ErrBadPath},
		{strings.Repeat("a", 256), "", files.ErrBadPath},
		{strings.Repeat("a/", 2048) + "a", "", files.ErrBadPath},
	} {
		got, err := s.Clean(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("Clean(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 200},
		{fmt.Errorf("x: %w", files.ErrBadPath), 400},
		{files.ErrIsDir, 400},
		{io.ErrUnexpectedEOF, 400},
		{fmt.Errorf("x: %w", fs.ErrNotExist), 404},
		{files.ErrForbidden, 403},
		{fs.ErrPermission, 403},
		{files.ErrExists, 409},
		{fs.ErrExist, 409},
		{files.ErrTooLarge, 413},
		{fmt.Errorf("x: %w", &http.MaxBytesError{Limit: 1}), 413},
		{files.ErrIncomplete, 400},
		{fmt.Errorf("x: %w (%w)", files.ErrIncomplete, files.ErrIdle), 408}, // what an idle body gives
		{files.ErrBadRange, 400},
		{fmt.Errorf("x: %w", files.ErrOffset), 409},
		{fmt.Errorf("x: %w", files.ErrBusy), 503},
		{errors.New("disk on fire"), 500},
	} {
		if got := files.HTTPStatus(tc.err); got != tc.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestContentType(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"a.txt":      "text/plain; charset=utf-8",
		"A.TXT":      "text/plain; charset=utf-8",
		"a.md":       "text/plain; charset=utf-8",
		"a.rst":      "text/plain; charset=utf-8",
		"a.py":       "text/plain; charset=utf-8",
		"a.go":       "text/plain; charset=utf-8",
		"go.mod":     "text/plain; charset=utf-8",
		"a.yaml":     "text/plain; charset=utf-8",
		"a.json":     "application/json",
		"a.csv":      "text/csv; charset=utf-8",
		"a.html":     "text/html; charset=utf-8",
		"a.js":       "text/javascript; charset=utf-8",
		"a.svg":      "image/svg+xml",
		"a.png":      "image/png",
		"a.pdf":      "application/pdf",
		"Makefile":   "application/octet-stream",
		"a.unknownx": "application/octet-stream",
		"dir.d/x":    "application/octet-stream",
	} {
		if got := files.ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestIsText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"":             true,
		"hello\n":      true,
		readme:         true,
		"a\x00b":       false,
		"\xff\xfe":     false,
		"\xc0\xae":     false,
		"tab\tand\r\n": true,
	} {
		if got := files.IsText([]byte(in)); got != want {
			t.Errorf("IsText(%q) = %v", in, got)
		}
	}
}

func BenchmarkClean(b *testing.B) {
	s, err := files.Open(b.TempDir(), files.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"/myfile1.txt", "/docs/sub/deep/notes-2024.md", "/Ünïcödé — ✓.rst", "/docs/./a.md", "/../etc/passwd", "/.git/config"} {
		b.Run(strings.TrimPrefix(name, "/"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Clean(name)
			}
		})
	}
}
