package dav_test

// The WebDAV door on a real loopback listener with net/http clients and
// raw TCP where a request must be odd: hostile paths for every method,
// read-only stores, atomic and bounded writes, and the write hook.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filehub/dav"
	"filehub/files"
	"filehub/internal/testutil"
)

// door is a dav handler on a loopback listener, with the writes it
// reported and a way to wait for requests to finish.
type door struct {
	url    string
	dir    string
	store  *files.Store
	mu     sync.Mutex
	writes []files.PutResult
	served chan string // "METHOD path" as each request's handler returns
}

func (d *door) wrote() []files.PutResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.writes)
}

// start serves dir over WebDAV as the server mounts it, without ServeMux
// (which would clean some hostile paths before the handler saw them).
func start(t *testing.T, dir string, cfg files.Config) *door {
	t.Helper()
	cfg.Logger = testutil.Logger(t, -4)
	s, err := files.Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	d := &door{dir: dir, store: s, served: make(chan string, 64)}
	h := dav.Handler(s, dav.Hooks{OnWrite: func(_ *http.Request, res files.PutResult) {
		d.mu.Lock()
		d.writes = append(d.writes, res)
		d.mu.Unlock()
	}}, dav.Config{Logger: testutil.Logger(t, -4)})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			select {
			case d.served <- r.Method + " " + r.URL.Path:
			default:
			}
		}()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	d.url = ts.URL
	return d
}

// do sends one request; path goes on the wire as written (escapes kept).
func (d *door) do(t *testing.T, method, path string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, d.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path // sent verbatim: "%2e%2e" stays encoded
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: testutil.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// hostileTree is a folder with a hidden file, a folder holding a hidden
// file, links out of the folder and to the hidden file, and a FIFO; and
// beside it a folder outside that nothing may reach.
func hostileTree(t *testing.T) (dir, outside string) {
	t.Helper()
	base := t.TempDir()
	dir, outside = filepath.Join(base, "served"), filepath.Join(base, "outside")
	testutil.WriteTree(t, dir, map[string]string{
		"a.txt":          "a",
		".secret":        "s",
		"sub/b.txt":      "b",
		"keep/.git/HEAD": "ref",
		"keep/c.txt":     "c",
	})
	testutil.WriteTree(t, outside, map[string]string{"passwd": "root"})
	for link, to := range map[string]string{"out": outside, "outfile": filepath.Join(outside, "passwd"), "tosecret": ".secret", "up": "../outside"} {
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, outside
}

// snapshot is every name under dir with its content (links as "->").
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			to, _ := os.Readlink(p)
			out[rel] = "-> " + to
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		default:
			out[rel] = fi.Mode().Type().String()
		}
		return nil
	})
	return out
}

func TestHostilePaths(t *testing.T) {
	t.Parallel()
	dir, outside := hostileTree(t)
	d := start(t, dir, files.Config{Uploads: true})
	before, beforeOut := snapshot(t, dir), snapshot(t, outside)
	dest := func(p string) map[string]string { return map[string]string{"Destination": d.url + p, "Overwrite": "T"} }
	depth1 := map[string]string{"Depth": "1"}
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
		body         string
		want         int
	}{
		{"GET", "/_/dav/../a.txt", nil, "", 400},
		{"GET", "/_/dav/%2e%2e/outside/passwd", nil, "", 400},
		{"GET", "/_/dav/sub/%2e%2e%2f%2e%2e%2foutside%2fpasswd", nil, "", 400},
		{"GET", "/_/dav/sub%2F..%2F..%2Foutside%2Fpasswd", nil, "", 400},
		{"GET", "/_/dav/a.txt%00", nil, "", 400},
		{"GET", "/_/dav/sub\\..\\a.txt", nil, "", 400},
		{"GET", "/_/dav/.secret", nil, "", 404},
		{"GET", "/_/dav/tosecret", nil, "", 404},
		{"GET", "/_/dav/out/passwd", nil, "", 404},
		{"GET", "/_/dav/outfile", nil, "", 404},
		{"GET", "/_/dav/up/passwd", nil, "", 404},
		{"GET", "/_/dav/pipe", nil, "", 404},
		{"GET", "/_/dav/_/static/x", nil, "", 404},
		{"GET", "/_/davx/a.txt", nil, "", 404},
		{"PROPFIND", "/_/dav/.secret", depth1, "", 404},
		{"PROPFIND", "/_/dav/tosecret", depth1, "", 404},
		{"PROPFIND", "/_/dav/out/", depth1, "", 404},
		{"PROPFIND", "/_/dav/pipe", depth1, "", 404},
		{"PROPFIND", "/_/dav/keep/.git/", depth1, "", 404},
		{"PROPPATCH", "/_/dav/.secret", nil, `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`, 404},
		{"PUT", "/_/dav/.evil", nil, "x", 404},
		{"PUT", "/_/dav/%2e%2e/outside/evil", nil, "x", 400},
		{"PUT", "/_/dav/out/evil", nil, "x", 409}, // its folder leads out: not there
		{"PUT", "/_/dav/up/evil", nil, "x", 409},
		{"PUT", "/_/dav/tosecret", nil, "x", 404},
		{"PUT", "/_/dav/pipe", nil, "x", 404},
		{"PUT", "/_/dav/keep/.git/HEAD", nil, "x", 404},
		{"PUT", "/_/dav/.filehub-tmp-x", nil, "x", 404},
		{"PUT", "/_/dav/_/x", nil, "x", 404},
		{"PUT", "/_/dav/ws", nil, "x", 404},
		{"MKCOL", "/_/dav/.git", nil, "", 404},
		{"MKCOL", "/_/dav/out/new", nil, "", 409},
		{"DELETE", "/_/dav/", nil, "", 403},
		{"DELETE", "/_/dav/.secret", nil, "", 404},
		{"DELETE", "/_/dav/tosecret", nil, "", 404},
		{"DELETE", "/_/dav/pipe", nil, "", 404},
		{"DELETE", "/_/dav/keep", nil, "", 403}, // holds .git, which its owner never saw
		{"DELETE", "/_/dav/out/passwd", nil, "", 404},
		{"MOVE", "/_/dav/a.txt", dest("/_/dav/../a.txt"), "", 400},
		{"MOVE", "/_/dav/a.txt", dest("/_/dav/%2e%2e/outside/a.txt"), "", 400},
		{"MOVE", "/_/dav/a.txt", dest("/_/dav/.hidden"), "", 404},
		{"MOVE", "/_/dav/a.txt", dest("/_/dav/out/a.txt"), "", 409},
		{"MOVE", "/_/dav/a.txt", dest("/elsewhere/a.txt"), "", 400},
		{"MOVE", "/_/dav/a.txt", dest("/_/dav/keep/.git/a.txt"), "", 404},
		{"MOVE", "/_/dav/.secret", dest("/_/dav/visible"), "", 404},
		{"MOVE", "/_/dav/tosecret", dest("/_/dav/visible"), "", 404},
		{"MOVE", "/_/dav/out", dest("/_/dav/visible"), "", 404}, // shown nowhere: a link out
		{"MOVE", "/_/dav/sub", dest("/_/dav/sub/inner"), "", 403},
		{"MOVE", "/_/dav/", dest("/_/dav/x"), "", 403},
		{"COPY", "/_/dav/.secret", dest("/_/dav/visible"), "", 404},
		{"COPY", "/_/dav/tosecret", dest("/_/dav/visible"), "", 404},
		{"COPY", "/_/dav/outfile", dest("/_/dav/visible"), "", 404},
		{"COPY", "/_/dav/pipe", dest("/_/dav/visible"), "", 404},
		{"COPY", "/_/dav/a.txt", dest("/_/dav/.hidden"), "", 404},
		{"COPY", "/_/dav/a.txt", dest("/_/dav/out/a.txt"), "", 409},
		{"COPY", "/_/dav/sub", dest("/_/dav/sub/inner"), "", 403},
		{"COPY", "/_/dav/keep", dest("/_/dav/keep2"), "", 201}, // .git is not copied: it is not there
		{"LOCK", "/_/dav/.secret", nil, "", 404},
		{"PUT", "/_/dav/outfile", nil, "x", 404}, // a link GET hides is hidden from PUT too, and stays (issue 20, finding 9)
	} {
		got, body := d.do(t, tc.method, tc.path, tc.hdr, tc.body)
		if got != tc.want {
			t.Errorf("%s %s %v: %d, want %d (%q)", tc.method, tc.path, tc.hdr, got, tc.want, body)
		}
		if strings.Contains(body, "root") || strings.Contains(body, "secret") || strings.Contains(body, dir) {
			t.Errorf("%s %s: the answer tells what it must not: %q", tc.method, tc.path, body)
		}
	}
	// What changed is what the table allowed: keep2 a copy of keep without
	// .git; nothing else (outfile is still the link), and nothing outside.
	after := snapshot(t, dir)
	if after["keep2/c.txt"] != "c" {
		t.Errorf("keep2/c.txt %q", after["keep2/c.txt"])
	}
	for _, k := range []string{"keep2", "keep2/c.txt"} {
		delete(after, k)
		delete(before, k)
	}
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the folder changed:\nbefore %v\nafter  %v", before, after)
	}
	if got := snapshot(t, outside); fmt.Sprint(got) != fmt.Sprint(beforeOut) {
		t.Errorf("outside changed: %v, was %v", got, beforeOut)
	}
}

// TestListingHidesWhatIsNotServed: a PROPFIND of the folder names what GET
// serves and nothing else.
func TestListingHidesWhatIsNotServed(t *testing.T) {
	t.Parallel()
	dir, _ := hostileTree(t)
	d := start(t, dir, files.Config{})
	code, body := d.do(t, "PROPFIND", "/_/dav/", map[string]string{"Depth": "1"}, "")
	if code != http.StatusMultiStatus {
		t.Fatalf("PROPFIND: %d %s", code, body)
	}
	for _, want := range []string{"/_/dav/a.txt", "/_/dav/sub/", "/_/dav/keep/"} {
		if !strings.Contains(body, "<D:href>"+want+"</D:href>") {
			t.Errorf("listing lacks %s: %s", want, body)
		}
	}
	for _, never := range []string{"secret", "outfile", "/out", "/up", "pipe", ".git"} {
		if strings.Contains(body, never) {
			t.Errorf("listing shows %q: %s", never, body)
		}
	}
	if !strings.Contains(body, "<D:getcontenttype>text/plain; charset=utf-8</D:getcontenttype>") {
		t.Errorf("no content type from files: %s", body)
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	for _, cfg := range []files.Config{{}, {Uploads: true, ReadOnly: true}} {
		dir := testutil.Tree(t, map[string]string{"a.txt": "a", "sub/b.txt": "b"})
		d := start(t, dir, cfg)
		before := snapshot(t, dir)
		dest := map[string]string{"Destination": d.url + "/_/dav/c.txt"}
		for _, tc := range []struct {
			method, path string
			hdr          map[string]string
		}{
			{"PUT", "/_/dav/new.txt", nil},
			{"PUT", "/_/dav/a.txt", nil},
			{"MKCOL", "/_/dav/new", nil},
			{"DELETE", "/_/dav/a.txt", nil},
			{"DELETE", "/_/dav/sub", nil},
			{"MOVE", "/_/dav/a.txt", dest},
			{"COPY", "/_/dav/a.txt", dest},
			{"PROPPATCH", "/_/dav/a.txt", nil},
			{"LOCK", "/_/dav/a.txt", nil},
			{"UNLOCK", "/_/dav/a.txt", nil},
		} {
			if code, body := d.do(t, tc.method, tc.path, tc.hdr, "x"); code != http.StatusForbidden {
				t.Errorf("%+v: %s %s: %d %q, want 403", cfg, tc.method, tc.path, code, body)
			}
		}
		if code, body := d.do(t, "GET", "/_/dav/a.txt", nil, ""); code != 200 || body != "a" {
			t.Errorf("GET: %d %q", code, body)
		}
		if code, _ := d.do(t, "PROPFIND", "/_/dav/", map[string]string{"Depth": "1"}, ""); code != http.StatusMultiStatus {
			t.Errorf("PROPFIND: %d", code)
		}
		req, _ := http.NewRequest("OPTIONS", d.url+"/_/dav/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("DAV"); got != "1" {
			t.Errorf("OPTIONS of a read-only folder: DAV %q, want 1 (no locks: clients mount read-only)", got)
		}
		if got := snapshot(t, dir); fmt.Sprint(got) != fmt.Sprint(before) {
			t.Errorf("%+v: the folder changed: %v", cfg, got)
		}
		if len(d.wrote()) != 0 {
			t.Errorf("writes reported: %v", d.wrote())
		}
	}
}

// TestWritesAtomic: a PUT whose body is cut off, or too large, leaves the
// old file as it was and no temp file; one that completes replaces it and
// is reported once, with its sha256.
func TestWritesAtomic(t *testing.T) {
	t.Parallel()
	dir := testutil.Tree(t, map[string]string{"a.txt": "old"})
	d := start(t, dir, files.Config{Uploads: true, MaxUpload: 100})

	// Cut off: 50 of 100 bytes, then the connection closes.
	conn, err := net.Dial("tcp", strings.TrimPrefix(d.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /_/dav/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n%s", strings.Repeat("n", 50))
	conn.Close()
	waitServed(t, d, "PUT /_/dav/a.txt")

	if code, _ := d.do(t, "PUT", "/_/dav/a.txt", nil, strings.Repeat("x", 101)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT of 101 bytes over a 100-byte limit: %d, want 413", code)
	}
	if got := snapshot(t, dir); fmt.Sprint(got) != fmt.Sprint(map[string]string{".": "d---------", "a.txt": "old"}) {
		t.Errorf("after the failed PUTs: %v", got)
	}
	if len(d.wrote()) != 0 {
		t.Errorf("failed writes reported: %v", d.wrote())
	}

	if code, _ := d.do(t, "PUT", "/_/dav/a.txt", nil, "new"); code != http.StatusCreated {
		t.Fatalf("PUT: %d", code)
	}
	if code, body := d.do(t, "GET", "/_/dav/a.txt", nil, ""); code != 200 || body != "new" {
		t.Errorf("GET after PUT: %d %q", code, body)
	}
	if code, _ := d.do(t, "COPY", "/_/dav/a.txt", map[string]string{"Destination": "/_/dav/b.txt"}, ""); code != http.StatusCreated {
		t.Errorf("COPY: %d", code)
	}
	// A LOCK of a new name makes an empty file (RFC 4918, 9.10.4), which
	// is no write to tell the room of: the PUT that follows is.
	lock := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
	if code, body := d.do(t, "LOCK", "/_/dav/locked.txt", nil, lock); code != http.StatusCreated {
		t.Errorf("LOCK of a new name: %d %s", code, body)
	}
	if fi, err := os.Stat(filepath.Join(dir, "locked.txt")); err != nil || fi.Size() != 0 {
		t.Errorf("after LOCK: %v %v", fi, err)
	}
	w := d.wrote()
	// sha256("new")
	const sum = "11507a0e2f5e69d5dfa40a62a1bd7b6ee57e6bcd85c67c9b8431b36fff21c437"
	if len(w) != 2 || w[0].Path != "a.txt" || w[0].SHA256 != sum || w[1].Path != "b.txt" || w[1].SHA256 != sum || w[1].Size != 3 {
		t.Errorf("writes reported: %+v", w)
	}
}

// TestPutIdle: a PUT whose body stops arriving is cut after
// BodyIdleTimeout, and leaves nothing.
func TestPutIdle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := files.Open(dir, files.Config{Uploads: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts := httptest.NewServer(dav.Handler(s, dav.Hooks{}, dav.Config{BodyIdleTimeout: 200 * time.Millisecond}))
	t.Cleanup(ts.Close)
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /_/dav/slow.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
	conn.SetReadDeadline(time.Now().Add(testutil.Timeout))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to an idle PUT: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("idle PUT: %d, want 408", resp.StatusCode)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestDeadPropsBounded: dead properties are kept, moved with their file,
// and a value too large is refused (507) without changing anything.
func TestDeadPropsBounded(t *testing.T) {
	t.Parallel()
	dir := testutil.Tree(t, map[string]string{"a.txt": "a"})
	d := start(t, dir, files.Config{Uploads: true})
	set := func(v string) (int, string) {
		return d.do(t, "PROPPATCH", "/_/dav/a.txt", nil,
			`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:tag xmlns:x="urn:t">`+v+`</x:tag></D:prop></D:set></D:propertyupdate>`)
	}
	if code, body := set("red"); code != http.StatusMultiStatus || !strings.Contains(body, "200 OK") {
		t.Fatalf("PROPPATCH: %d %s", code, body)
	}
	if code, body := set(strings.Repeat("x", 5000)); code != http.StatusMultiStatus || !strings.Contains(body, "507") {
		t.Errorf("PROPPATCH of 5000 bytes: %d %s", code, body)
	}
	if code, _ := d.do(t, "MOVE", "/_/dav/a.txt", map[string]string{"Destination": "/_/dav/b.txt"}, ""); code != http.StatusCreated {
		t.Fatalf("MOVE: %d", code)
	}
	code, body := d.do(t, "PROPFIND", "/_/dav/b.txt", map[string]string{"Depth": "0"}, "")
	if code != http.StatusMultiStatus || !strings.Contains(body, ">red<") {
		t.Errorf("PROPFIND after MOVE: %d %s", code, body)
	}
}

// waitServed waits until the handler of a request returned.
func waitServed(t *testing.T, d *door, want string) {
	t.Helper()
	timeout := time.After(testutil.Timeout)
	for {
		select {
		case got := <-d.served:
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("%s was not served", want)
		}
	}
}
