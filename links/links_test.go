package links_test

// Share links on a real loopback listener with net/http clients: what a
// guest reaches (the file or the folder, nothing else), passwords and
// their tries, the download limit (raced), expiry and revocation, and
// links kept in a state file across a restart.

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"filehub/drops"
	"filehub/files"
	"filehub/internal/testutil"
	"filehub/links"
)

// clock is the test's time, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// guard counts wrong passwords and locks out after three.
type guard struct{ fails atomic.Int32 }

func (g *guard) Wait(*http.Request) time.Duration {
	if g.fails.Load() >= 3 {
		return time.Minute
	}
	return 0
}
func (g *guard) Fail(*http.Request) bool { return g.fails.Add(1) <= 3 }

type download struct {
	link  string
	path  string
	bytes int64
}

type env struct {
	url   string
	dir   string
	clock *clock
	guard *guard
	mu    sync.Mutex
	got   []download
}

func (e *env) downloads() []download {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]download(nil), e.got...)
}

// start serves a folder's share links as package server routes them, with
// keeper (nil: in memory).
func start(t *testing.T, dir string, keeper drops.Keeper) *env {
	t.Helper()
	store, err := files.Open(dir, files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{dir: dir, clock: &clock{now: time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)}, guard: &guard{}}
	l := links.New(links.Config{Keeper: keeper, Now: e.clock.Now, BcryptCost: bcrypt.MinCost, Logger: testutil.Logger(t, -4)})
	h := links.NewHandlers(l, store, e.guard, links.Hooks{OnDownload: func(l links.Link, p string, n int64) {
		e.mu.Lock()
		e.got = append(e.got, download{l.Label, p, n})
		e.mu.Unlock()
	}})
	mux := http.NewServeMux()
	mux.Handle("POST /_/links", h.Create)
	mux.Handle("GET /_/links", h.List)
	mux.Handle("DELETE /_/links/{id}", h.Revoke)
	mux.Handle("GET /_/link/{id}", h.Page)
	mux.Handle("POST /_/link/{id}", h.Unlock)
	mux.Handle("GET /_/link/{id}/{name...}", h.Get)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e
}

type linkJSON struct {
	ID, URL, Path string
	Password      bool
	MaxDownloads  int `json:"max_downloads"`
	Downloads     int
}

func (e *env) create(t *testing.T, req string) (int, linkJSON, string) {
	t.Helper()
	resp, err := http.Post(e.url+"/_/links", "application/json", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var l linkJSON
	json.Unmarshal(b, &l)
	return resp.StatusCode, l, string(b)
}

func (e *env) mustCreate(t *testing.T, req string) linkJSON {
	t.Helper()
	code, l, body := e.create(t, req)
	if code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", req, code, body)
	}
	return l
}

// get fetches u (a path on the server) with c, and optional headers.
func (e *env) get(t *testing.T, c *http.Client, u string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.url+u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c == nil {
		c = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func tree(t *testing.T) string {
	t.Helper()
	dir := testutil.Tree(t, map[string]string{
		"top.txt":           "TOPFILE",
		"docs/a.txt":        "alpha",
		"docs/.env":         "SECRET=1",
		"docs/sub/b.txt":    "beta",
		"docs/.git/config":  "x",
		"other/private.txt": "PRIVATEFILE",
	})
	if err := os.Symlink("../other/private.txt", filepath.Join(dir, "docs", "sideways")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCreateRefuses(t *testing.T) {
	t.Parallel()
	e := start(t, tree(t), nil)
	for _, tc := range []struct {
		req  string
		want int
	}{
		{`{"path":"docs/a.txt"}`, 400},
		{`{"path":"docs/a.txt","expires":"soon"}`, 400},
		{`{"path":"docs/a.txt","expires":"30s"}`, 400},
		{`{"path":"docs/a.txt","expires":"90d"}`, 400},
		{`{"path":"docs/a.txt","expires":"1h","password":"short"}`, 400},
		{`{"path":"docs/a.txt","expires":"1h","max_download":1}`, 400}, // misspelt: refused, not ignored
		{`{"path":"docs/a.txt","expires":"1h","max_downloads":-1}`, 400},
		{`{"path":"docs/a.txt","expires":"1h","room":"no spaces"}`, 400},
		{`{"path":"docs/a.txt","expires":"1h","label":"a\u202eb"}`, 400},
		{`{"path":"docs/../top.txt","expires":"1h"}`, 400},
		{`{"path":"docs/.env","expires":"1h"}`, 404},
		{`{"path":"nothing.txt","expires":"1h"}`, 404},
		{`{"path":"docs/a.txt","expires":"1h"} {}`, 400},
	} {
		if code, _, body := e.create(t, tc.req); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.req, code, body, tc.want)
		}
	}
}

// TestFileLink: a file link serves that file and nothing else.
func TestFileLink(t *testing.T) {
	t.Parallel()
	e := start(t, tree(t), nil)
	l := e.mustCreate(t, `{"path":"docs/a.txt","expires":"1h","label":"Pat"}`)
	base := "/_/link/" + l.ID
	code, hd, body := e.get(t, nil, base, "Accept", "text/html")
	if code != 200 || !strings.Contains(body, "a.txt") || !strings.Contains(body, `href="`+base+`/a.txt"`) || strings.Contains(body, "docs") {
		t.Errorf("page: %d %s", code, body)
	}
	if hd.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(hd.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("page headers: %v", hd)
	}
	code, hd, body = e.get(t, nil, base+"/a.txt")
	if code != 200 || body != "alpha" || hd.Get("Content-Security-Policy") != "sandbox" || !strings.HasPrefix(hd.Get("Content-Disposition"), "attachment") {
		t.Errorf("download: %d %q %v", code, body, hd)
	}
	for _, p := range []string{base + "/b.txt", base + "/../top.txt", base + "/a.txt/x", base + "/", base + "/.env", base + "x"} {
		if code, _, body := e.get(t, nil, p); code == 200 || strings.Contains(body, "alpha") || strings.Contains(body, "TOPFILE") {
			t.Errorf("GET %s: %d %q", p, code, body)
		}
	}
	if got := e.downloads(); len(got) != 1 || got[0] != (download{"Pat", "docs/a.txt", 5}) {
		t.Errorf("downloads reported: %+v", got)
	}
}

// TestFolderLink: a folder link serves the folder's listing, its files,
// its subfolders and its zip; never a hidden name, a link out of the
// folder, or anything above it.
func TestFolderLink(t *testing.T) {
	t.Parallel()
	e := start(t, tree(t), nil)
	l := e.mustCreate(t, `{"path":"docs/","expires":"1h"}`)
	base := "/_/link/" + l.ID
	code, _, body := e.get(t, nil, base, "Accept", "application/json")
	var pg struct {
		Name    string
		Dir     bool
		URL     string
		Entries []struct{ Name, URL string }
	}
	if err := json.Unmarshal([]byte(body), &pg); code != 200 || err != nil || !pg.Dir || len(pg.Entries) != 2 ||
		pg.Entries[0].Name != "sub" || pg.Entries[1].Name != "a.txt" || pg.Entries[0].URL != base+"/sub/" {
		t.Fatalf("listing: %d %s", code, body)
	}
	if code, _, body := e.get(t, nil, base+"/sub/b.txt"); code != 200 || body != "beta" {
		t.Errorf("sub/b.txt: %d %q", code, body)
	}
	if code, _, body := e.get(t, nil, base+"/sub/", "Accept", "text/html"); code != 200 || !strings.Contains(body, base+"/sub/b.txt") {
		t.Errorf("sub/: %d %s", code, body)
	}
	if code, hd, _ := e.get(t, nil, base+"/sub"); code != http.StatusMovedPermanently || hd.Get("Location") != base+"/sub/" {
		t.Errorf("sub: %d %v", code, hd)
	}
	code, _, body = e.get(t, nil, base+"/?zip")
	zr, err := zip.NewReader(bytes.NewReader([]byte(body)), int64(len(body)))
	if code != 200 || err != nil {
		t.Fatalf("zip: %d %v", code, err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if fmt.Sprint(names) != "[docs/sub/ docs/sub/b.txt docs/a.txt]" { // not sideways: it leads out of docs
		t.Errorf("zip holds %v", names)
	}
	for _, p := range []string{
		base + "/.env", base + "/.git/config", base + "/sideways", base + "/../top.txt", base + "/%2e%2e/top.txt",
		base + "/sub/%2e%2e/%2e%2e/top.txt", base + "/..%2ftop.txt", base + "/a.txt%00", base + "/sub/../../other/private.txt",
	} {
		if code, _, body := e.get(t, nil, p); code == 200 || strings.Contains(body, "SECRET") || strings.Contains(body, "PRIVATEFILE") || strings.Contains(body, "TOPFILE") {
			t.Errorf("GET %s: %d %q", p, code, body)
		}
	}
	got := e.downloads()
	if len(got) != 2 || got[0].path != "docs/sub/b.txt" || got[1].path != files.ZipPath("docs") {
		t.Errorf("downloads reported: %+v", got)
	}
}

// TestPassword: a link with a password answers 401 (with the form, for a
// browser) until it is given, in the form or as Basic auth; wrong ones are
// counted by the guard, and past its tries even the right one waits.
func TestPassword(t *testing.T) {
	t.Parallel()
	e := start(t, tree(t), nil)
	l := e.mustCreate(t, `{"path":"docs/a.txt","expires":"1h","password":"correct horse"}`)
	if !l.Password {
		t.Fatal("the link does not say it has a password")
	}
	base := "/_/link/" + l.ID
	code, hd, body := e.get(t, nil, base, "Accept", "text/html")
	if code != 401 || !strings.Contains(body, `<form method="post"`) || strings.Contains(body, "a.txt") || !strings.Contains(hd.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("without the password: %d %s", code, body)
	}
	if code, _, _ := e.get(t, nil, base+"/a.txt"); code != 401 {
		t.Errorf("the file without the password: %d", code)
	}
	basic := func(pass string) int {
		req, _ := http.NewRequest("GET", e.url+base+"/a.txt", nil)
		req.SetBasicAuth("", pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := basic("correct horse"); c != 200 {
		t.Errorf("Basic with the password: %d", c)
	}
	// The form: a wrong password, then the right one sets the cookie.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(e.url+base, url.Values{"password": {"wrong one"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("the form, wrong: %d", resp.StatusCode)
	}
	resp, err = c.PostForm(e.url+base, url.Values{"password": {"correct horse"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "a.txt") { // followed the 303 to the page
		t.Errorf("the form, right: %d %s", resp.StatusCode, b)
	}
	if code, _, body := e.get(t, c, base+"/a.txt"); code != 200 || body != "alpha" {
		t.Errorf("with the cookie: %d %q", code, body)
	}
	// Two more wrong (three in all): locked out, the right one included.
	basic("wrong two")
	basic("wrong three")
	if c := basic("wrong four"); c != http.StatusTooManyRequests {
		t.Errorf("past the guard's tries: %d", c)
	}
	if c := basic("correct horse"); c != http.StatusTooManyRequests {
		t.Errorf("the right one while locked out: %d", c)
	}
	if n := e.guard.fails.Load(); n != 3 {
		t.Errorf("the guard counted %d wrong passwords, want 3 (then it refused before checking)", n)
	}
}

// TestDownloadLimit: max_downloads downloads are served, raced from many
// clients at once, then the link is 410; HEAD and a resumed range do not
// count.
func TestDownloadLimit(t *testing.T) {
	t.Parallel()
	e := start(t, tree(t), nil)
	l := e.mustCreate(t, `{"path":"docs/a.txt","expires":"1h","max_downloads":3}`)
	u := e.url + "/_/link/" + l.ID + "/a.txt"
	req, _ := http.NewRequest("HEAD", u, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	req, _ = http.NewRequest("GET", u, nil)
	req.Header.Set("Range", "bytes=2-")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 206 {
		t.Fatalf("a resumed range: %v %v", resp, err)
	}
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			if resp, err := http.Get(u); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}
		})
	}
	wg.Wait()
	ok, gone := 0, 0
	for _, c := range codes {
		switch c {
		case 200:
			ok++
		case 410:
			gone++
		}
	}
	if ok != 3 || gone != 5 {
		t.Errorf("8 racing downloads of a 3-download link: %v", codes)
	}
	if code, _, _ := e.get(t, nil, "/_/link/"+l.ID); code != 410 {
		t.Errorf("the page once used up: %d", code)
	}
}

// TestExpiryAndRevoke: an expired link and a revoked one answer 410 on
// every door; an id no link has, 404.
func TestExpiryAndRevoke(t *testing.T) {
	t.Parallel()
	e := start(t, tree(t), nil)
	short := e.mustCreate(t, `{"path":"docs/","expires":"1h"}`)
	long := e.mustCreate(t, `{"path":"docs/","expires":"2h"}`)
	e.clock.add(time.Hour + time.Second)
	for _, p := range []string{"", "/a.txt", "/?zip", "/sub/"} {
		if code, _, _ := e.get(t, nil, "/_/link/"+short.ID+p); code != 410 {
			t.Errorf("expired %s: %d", p, code)
		}
		if code, _, _ := e.get(t, nil, "/_/link/"+long.ID+p); code != 200 {
			t.Errorf("live %s: %d", p, code)
		}
	}
	req, _ := http.NewRequest("DELETE", e.url+"/_/links/"+long.ID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	if code, _, body := e.get(t, nil, "/_/link/"+long.ID+"/a.txt", "Accept", "application/json"); code != 410 || !strings.Contains(body, `"gone"`) {
		t.Errorf("revoked: %d %s", code, body)
	}
	if code, _, _ := e.get(t, nil, "/_/link/AAAAAAAAAAAAAAAAAAAAAAAAAA"); code != 404 {
		t.Errorf("no such link: %d", code)
	}
	if code, _, _ := e.get(t, nil, "/_/link/x"); code != 404 {
		t.Errorf("a malformed id: %d", code)
	}
	code, _, body := e.get(t, nil, "/_/links")
	if code != 200 || strings.Contains(body, short.ID) || strings.Contains(body, long.ID) {
		t.Errorf("list: %d %s", code, body)
	}
}

// TestKeptAcrossRestart: links kept in a state file work after a restart,
// with their counts, and the file holds no password, only its hash.
func TestKeptAcrossRestart(t *testing.T) {
	t.Parallel()
	dir, state := tree(t), filepath.Join(t.TempDir(), "links.json")
	k, err := drops.OpenFile(state)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, dir, k)
	l := e.mustCreate(t, `{"path":"top.txt","expires":"1h","max_downloads":2,"password":"pass word 1"}`)
	req, _ := http.NewRequest("GET", e.url+"/_/link/"+l.ID+"/top.txt", nil)
	req.SetBasicAuth("", "pass word 1")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first download: %v %v", resp, err)
	}
	raw, _ := os.ReadFile(state)
	if strings.Contains(string(raw), "pass word 1") || !strings.Contains(string(raw), "$2a$") {
		t.Errorf("the state file: %s", raw)
	}

	k2, err := drops.OpenFile(state)
	if err != nil {
		t.Fatal(err)
	}
	again := start(t, dir, k2)
	for i, want := range []int{200, 410} {
		req, _ := http.NewRequest("GET", again.url+"/_/link/"+l.ID+"/top.txt", nil)
		req.SetBasicAuth("", "pass word 1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("download %d after the restart: %d, want %d", i+2, resp.StatusCode, want)
		}
	}
}
