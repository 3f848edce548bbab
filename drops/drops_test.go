package drops_test

// The drop links' rules on their own: a real files.Store in a t.TempDir(),
// the handlers behind a real httptest server with the routes main gives
// them, real http.Clients. The clock is the one fake: a process edge, moved
// by the test to expire links.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filehub/drops"
	"filehub/files"
)

// clock is the test's time, moved by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time                  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration)             { c.ns.Add(int64(d)) }
func (c *clock) after(d time.Duration) time.Time { return c.now().Add(d) }

// syncBuffer is a log that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a served folder, its links and their doors on a real server.
type env struct {
	dir   string
	store *files.Store
	links *drops.Links
	keep  drops.Keeper
	clock *clock
	srv   *httptest.Server
	logs  *syncBuffer
	feed  chan string // what the hooks heard, one line each
}

type envOpts struct {
	files  files.Config
	keeper drops.Keeper
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), clock: newClock(), logs: &syncBuffer{}, feed: make(chan string, 100)}
	for _, d := range []string{"incoming", ".hidden", "docs"} {
		if err := os.MkdirAll(filepath.Join(e.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(e.dir, "docs", "a.md"), []byte("# a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(e.logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.files.MaxUpload == 0 {
		o.files.MaxUpload = 1 << 20
	}
	o.files.Logger = log
	s, err := files.Open(e.dir, o.files)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.store = s
	e.keep = o.keeper
	if e.keep == nil {
		e.keep = drops.Memory()
	}
	e.links = drops.New(drops.Config{Keeper: e.keep, Logger: log, Now: e.clock.now, KeepGone: 48 * time.Hour})
	d := drops.NewHandlers(e.links, s, func(w http.ResponseWriter, status int) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, "<!doctype html><title>drop page</title>")
	}, drops.Hooks{
		OnUpload: func(l drops.Link, res files.PutResult) {
			e.feed <- fmt.Sprintf("upload %s %s %d", l.Label, res.Path, res.Size)
		},
		OnUploadProgress: func(l drops.Link, path string, received, size int64) {
			e.feed <- fmt.Sprintf("progress %s %s %d/%d", l.Label, path, received, size)
		},
		OnUploadAbort: func(l drops.Link, path string, received int64, err error) {
			e.feed <- fmt.Sprintf("abort %s %s", l.Label, path)
		},
	})
	mux := http.NewServeMux()
	mux.Handle("POST /_/drops", d.Create)
	mux.Handle("GET /_/drops", d.List)
	mux.Handle("DELETE /_/drops/{id}", d.Revoke)
	mux.Handle("GET /_/drop/{id}", d.Page)
	mux.Handle("GET /_/drop/{id}/{name...}", d.Other)
	mux.Handle("PUT /_/drop/{id}/{name...}", d.Upload)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

type answer struct {
	status int
	body   string
	header http.Header
}

func (e *env) do(t *testing.T, method, path string, body io.Reader, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, string(b), resp.Header}
}

type created struct {
	ID       string    `json:"id"`
	URL      string    `json:"url"`
	Path     string    `json:"path"`
	Expires  time.Time `json:"expires"`
	Label    string    `json:"label"`
	MaxBytes int64     `json:"max_bytes"`
	MaxFiles int       `json:"max_files"`
	Bytes    int64     `json:"bytes"`
	Files    int       `json:"files"`
}

func (e *env) create(t *testing.T, req map[string]any) created {
	t.Helper()
	b, _ := json.Marshal(req)
	a := e.do(t, "POST", "/_/drops", bytes.NewReader(b))
	if a.status != http.StatusCreated {
		t.Fatalf("create %s: %d %s", b, a.status, a.body)
	}
	var c created
	if err := json.Unmarshal([]byte(a.body), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) put(t *testing.T, id, name, body string) answer {
	t.Helper()
	return e.do(t, "PUT", "/_/drop/"+id+"/"+name, strings.NewReader(body))
}

// TestCreate: what a new link is, and every request refused.
func TestCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.create(t, map[string]any{"path": "incoming/", "expires": "24h", "max_bytes": 100, "max_files": 2, "label": " Tax <b>docs</b> "})
	if len(c.ID) != 26 || strings.Trim(c.ID, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Errorf("id %q: want 26 base32 characters (130 random bits)", c.ID)
	}
	if c.URL != e.srv.URL+"/_/drop/"+c.ID || c.Path != "incoming/" || c.Label != "Tax <b>docs</b>" ||
		!c.Expires.Equal(e.clock.after(24*time.Hour)) || c.MaxBytes != 100 || c.MaxFiles != 2 {
		t.Errorf("created %+v", c)
	}
	if c2 := e.create(t, map[string]any{"path": "", "expires": "7d"}); c2.Path != "" || c2.ID == c.ID || !c2.Expires.Equal(e.clock.after(7*24*time.Hour)) {
		t.Errorf("a link to the root for 7d: %+v", c2)
	}
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"path":"incoming/"}`, 400},
		{`{"path":"incoming/","expires":""}`, 400},
		{`{"path":"incoming/","expires":"59s"}`, 400},
		{`{"path":"incoming/","expires":"31d"}`, 400},
		{`{"path":"incoming/","expires":"745h"}`, 400},
		{`{"path":"incoming/","expires":"-1h"}`, 400},
		{`{"path":"incoming/","expires":"soon"}`, 400},
		{`{"path":"incoming/","expires":"0d"}`, 400},
		{`{"path":"incoming/","expires":"1h","max_bytes":-1}`, 400},
		{`{"path":"incoming/","expires":"1h","max_files":-1}`, 400},
		{`{"path":"incoming/","expires":"1h","label":"` + strings.Repeat("x", 65) + `"}`, 400},
		{`{"path":"incoming/","expires":"1h","label":"a\nb"}`, 400},
		{`{"path":"incoming/","expires":"1h","label":"a\u202eb"}`, 400},
		{`{"path":"incoming/","expires":"1h","label":"ann\u200b"}`, 400}, // shows as "ann"
		{`{"path":"incoming/","expires":"1h","label":"a\u3164"}`, 400},
		{`{"path":"incoming/","expires":"1h","room":"bad room"}`, 400},
		{`{"path":"incoming/","expires":"1h","room":"` + strings.Repeat("r", 65) + `"}`, 400},
		{`{"path":"docs/a.md","expires":"1h"}`, 400},
		{`{"path":"../","expires":"1h"}`, 400},
		{`{"path":"nope/","expires":"1h"}`, 404},
		{`{"path":".hidden/","expires":"1h"}`, 404},
		{`{"path":"_/","expires":"1h"}`, 404},
		{`not json`, 400},
		// A limit misspelt is no limit: refused, never a link without it.
		{`{"path":"incoming/","expires":"1h","max_file":1}`, 400},
		{`{"path":"incoming/","expires":"1h","maxBytes":10}`, 400},
		{`{"path":"incoming/","expires":"1h"} {"max_files":1}`, 400},
		{`{"path":` + strings.Repeat(" ", 9000) + `"x"}`, 400},
	} {
		if a := e.do(t, "POST", "/_/drops", strings.NewReader(tc.body), "Accept", "application/json"); a.status != tc.status || strings.Contains(a.body, "plain name") {
			t.Errorf("POST %.60s: %d %s, want %d", tc.body, a.status, a.body, tc.status)
		} else if !strings.Contains(a.body, `"error"`) {
			t.Errorf("POST %.60s: %s, want a JSON error", tc.body, a.body)
		}
	}
	if a := e.do(t, "POST", "/_/drops", strings.NewReader(`{"path":"incoming/","expires":"31d"}`)); !strings.Contains(a.body, "between 1 minute and 30 days") {
		t.Errorf("the refusal of 31d says %q", a.body)
	}
	if a := e.do(t, "POST", "/_/drops", strings.NewReader(`{"path":"incoming/","expires":"1h","max_file":1}`)); !strings.Contains(a.body, `"max_file"`) {
		t.Errorf("the refusal of max_file says %q", a.body)
	}
	// Only the two good ones are listed.
	a := e.do(t, "GET", "/_/drops", nil)
	var l struct{ Drops []created }
	if err := json.Unmarshal([]byte(a.body), &l); err != nil || len(l.Drops) != 2 {
		t.Fatalf("list: %s (%v)", a.body, err)
	}
}

// TestUploadRules: a guest uploads new files, within the link's limits,
// never over one, never anything else.
func TestUploadRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.create(t, map[string]any{"path": "incoming", "expires": "1h", "max_bytes": 10, "max_files": 3, "label": "tax"})
	if a := e.put(t, c.ID, "a.txt", "hello"); a.status != 201 || !strings.Contains(a.body, `"size":5`) {
		t.Fatalf("first upload: %d %s", a.status, a.body)
	}
	if got, _ := os.ReadFile(filepath.Join(e.dir, "incoming", "a.txt")); string(got) != "hello" {
		t.Fatalf("incoming/a.txt holds %q", got)
	}
	if f := <-e.feed; f != "progress tax incoming/a.txt 0/5" {
		t.Errorf("first hook %q", f)
	}
	for f := <-e.feed; !strings.HasPrefix(f, "upload"); f = <-e.feed {
		if !strings.HasPrefix(f, "progress") {
			t.Fatalf("hook %q before the upload's end", f)
		}
	}
	// Never over a file: 409, and the refused upload costs nothing.
	if a := e.put(t, c.ID, "a.txt", "other"); a.status != 409 {
		t.Fatalf("same name again: %d %s", a.status, a.body)
	}
	if got, _ := os.ReadFile(filepath.Join(e.dir, "incoming", "a.txt")); string(got) != "hello" {
		t.Fatalf("incoming/a.txt now holds %q", got)
	}
	// Nor over a folder: the name is taken, 409 (the page then tries
	// "photos (2)"), not a 403 saying the server takes no uploads.
	if err := os.Mkdir(filepath.Join(e.dir, "incoming", "photos"), 0o755); err != nil {
		t.Fatal(err)
	}
	if a := e.put(t, c.ID, "photos", "x"); a.status != 409 || !strings.Contains(a.body, "already there") {
		t.Fatalf("a folder's name: %d %s", a.status, a.body)
	}
	// Past max_bytes (5 of 10 used): 413, however the size is told.
	if a := e.put(t, c.ID, "b.txt", "123456"); a.status != 413 {
		t.Fatalf("6 bytes with 5 left: %d", a.status)
	}
	req, _ := http.NewRequest("PUT", e.srv.URL+"/_/drop/"+c.ID+"/chunked.txt", io.MultiReader(strings.NewReader("123"), strings.NewReader("456")))
	req.ContentLength = -1 // chunked: the size is not told
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("6 chunked bytes with 5 left: %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "incoming", "chunked.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused chunked upload left a file: %v", err)
	}
	if a := e.put(t, c.ID, "b.txt", "12345"); a.status != 201 {
		t.Fatalf("5 bytes with 5 left: %d %s", a.status, a.body)
	}
	if a := e.put(t, c.ID, "empty.txt", ""); a.status != 201 {
		t.Fatalf("an empty file with nothing left: %d %s", a.status, a.body)
	}
	// Past max_files (3 taken, the refused ones given back): 403.
	if a := e.put(t, c.ID, "d.txt", ""); a.status != 403 || !strings.Contains(a.body, "took all the files") {
		t.Fatalf("a fourth file: %d %s", a.status, a.body)
	}
	info := e.do(t, "GET", "/_/drop/"+c.ID, nil, "Accept", "application/json")
	if info.status != 200 || !strings.Contains(info.body, `"bytes":10`) || !strings.Contains(info.body, `"files":3`) ||
		strings.Contains(info.body, "incoming") || strings.Contains(info.body, c.ID) {
		t.Fatalf("the guest's view: %d %s", info.status, info.body)
	}
	// Past the server's largest upload, when the link has no byte limit.
	big := newEnv(t, envOpts{files: files.Config{MaxUpload: 8}})
	bc := big.create(t, map[string]any{"path": "incoming", "expires": "1h"})
	if a := big.put(t, bc.ID, "big.txt", "123456789"); a.status != 413 {
		t.Fatalf("9 bytes over -max-upload 8: %d", a.status)
	}
	req, _ = http.NewRequest("PUT", big.srv.URL+"/_/drop/"+bc.ID+"/big.txt", io.MultiReader(strings.NewReader("12345"), strings.NewReader("6789")))
	req.ContentLength = -1
	if resp, err = big.srv.Client().Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("9 chunked bytes over -max-upload 8: %d", resp.StatusCode)
	}
	if a := big.put(t, bc.ID, "ok.txt", "12345678"); a.status != 201 {
		t.Fatalf("8 bytes: %d", a.status)
	}
}

// TestHostileNames: a link takes one plain name, whatever its spelling.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{files: files.Config{ShowHidden: true}})
	c := e.create(t, map[string]any{"path": "incoming", "expires": "1h"})
	for _, name := range []string{
		"..", "%2e%2e", "..%2Fx", "..%2F..%2Fdocs%2Fa.md", "a%2Fb", "a/b", "%2Fetc%2Fpasswd", "a%5Cb", "..%5Cx",
		".env", "%2eenv", ".filehub-tmp-x", "%00x", "x%0A", "%C0%AE%C0%AE", "bad%FF", strings.Repeat("n", 256), "",
	} {
		a := e.do(t, "PUT", "/_/drop/"+c.ID+"/"+name, strings.NewReader("x"))
		if a.status < 300 || a.status >= 500 {
			t.Errorf("PUT /_/drop/ID/%s: %d, want a refusal", name, a.status)
		}
	}
	ents, err := os.ReadDir(filepath.Join(e.dir, "incoming"))
	if err != nil || len(ents) != 0 {
		t.Errorf("incoming holds %v (%v)", ents, err)
	}
	if got, _ := os.ReadFile(filepath.Join(e.dir, "docs", "a.md")); string(got) != "# a\n" {
		t.Errorf("docs/a.md now %q", got)
	}
	ents, _ = os.ReadDir(e.dir)
	for _, d := range ents {
		if !d.IsDir() {
			t.Errorf("the root now holds %s", d.Name())
		}
	}
}

// TestNoReading: a drop link's URL reads nothing, lists nothing.
func TestNoReading(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.create(t, map[string]any{"path": "docs", "expires": "1h"})
	for _, p := range []string{"/a.md", "/", "/a.md?download", "/?zip", "/../docs/a.md", "/%2e%2e/docs/a.md", "/sub/"} {
		for _, accept := range []string{"", "application/json"} {
			a := e.do(t, "GET", "/_/drop/"+c.ID+p, nil, "Accept", accept)
			if strings.Contains(a.body, "# a") || strings.Contains(a.body, "a.md") || a.status == 200 {
				t.Errorf("GET /_/drop/ID%s (%s): %d %q", p, accept, a.status, a.body)
			}
		}
	}
	if a := e.do(t, "GET", "/_/drop/"+c.ID+"/a.md", nil); a.status != 405 || a.header.Get("Allow") != "PUT" {
		t.Errorf("GET of a file through the link: %d, Allow %q; want 405, PUT", a.status, a.header.Get("Allow"))
	}
	if a := e.do(t, "GET", "/_/drop/"+c.ID, nil, "Accept", "application/json"); strings.Contains(a.body, "docs") {
		t.Errorf("the guest's view names the folder: %s", a.body)
	}
}

// TestGone: after revocation or expiry every door of the link answers
// 410; long after, 404; an id never made, 404.
func TestGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	revoked := e.create(t, map[string]any{"path": "incoming", "expires": "1h"})
	expiring := e.create(t, map[string]any{"path": "incoming", "expires": "2h"})
	live := e.create(t, map[string]any{"path": "incoming", "expires": "3h"})
	if a := e.do(t, "DELETE", "/_/drops/"+revoked.ID, nil); a.status != 204 {
		t.Fatalf("revoke: %d %s", a.status, a.body)
	}
	e.clock.add(2*time.Hour + time.Second)
	doors := func(id string) map[string]answer {
		return map[string]answer{
			"page":   e.do(t, "GET", "/_/drop/"+id, nil, "Accept", "text/html"),
			"info":   e.do(t, "GET", "/_/drop/"+id, nil, "Accept", "application/json"),
			"put":    e.put(t, id, "x.txt", "x"),
			"read":   e.do(t, "GET", "/_/drop/"+id+"/x.txt", nil),
			"list":   e.do(t, "GET", "/_/drop/"+id+"/", nil),
			"revoke": e.do(t, "DELETE", "/_/drops/"+id, nil),
		}
	}
	for name, id := range map[string]string{"revoked": revoked.ID, "expired": expiring.ID} {
		for door, a := range doors(id) {
			if a.status != 410 {
				t.Errorf("%s link, %s: %d %s, want 410", name, door, a.status, a.body)
			}
		}
	}
	if a := e.put(t, live.ID, "x.txt", "x"); a.status != 201 {
		t.Fatalf("the live link: %d %s", a.status, a.body)
	}
	var l struct{ Drops []created }
	json.Unmarshal([]byte(e.do(t, "GET", "/_/drops", nil).body), &l)
	if len(l.Drops) != 1 || l.Drops[0].ID != live.ID {
		t.Fatalf("listed %+v, want the live one only", l.Drops)
	}
	// KeepGone (48 h) after it ended, a link is forgotten: 404 like an id
	// never made. Now the revoked one ended 49 h ago, the expired one 47 h.
	e.clock.add(47 * time.Hour)
	e.do(t, "GET", "/_/drops", nil) // the listing forgets them
	entries, err := e.keep.List(context.Background())
	if err != nil || len(entries) != 2 {
		t.Fatalf("kept %d links (%v), want the two that ended last", len(entries), err)
	}
	if a := e.put(t, expiring.ID, "x.txt", "x"); a.status != 410 {
		t.Errorf("PUT through the link expired 47 h ago: %d, want 410", a.status)
	}
	for _, id := range []string{revoked.ID, "AAAAAAAAAAAAAAAAAAAAAAAAAA", "short", strings.Repeat("a", 26)} {
		if a := e.put(t, id, "x.txt", "x"); a.status != 404 {
			t.Errorf("PUT through %s: %d, want 404", id, a.status)
		}
	}
}

// TestLimitsUnderConcurrency: uploads racing for the last files and bytes
// of a link never take more than it allows.
func TestLimitsUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	files3 := e.create(t, map[string]any{"path": "incoming", "expires": "1h", "max_files": 3})
	bytes10 := e.create(t, map[string]any{"path": "docs", "expires": "1h", "max_bytes": 10})
	const n = 12
	var wg sync.WaitGroup
	codes := make(chan string, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/_/drop/%s/f%d.txt", e.srv.URL, files3.ID, i), strings.NewReader("x"))
			if resp, err := e.srv.Client().Do(req); err == nil {
				resp.Body.Close()
				codes <- fmt.Sprintf("files %d", resp.StatusCode)
			}
		}()
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/_/drop/%s/b%d.txt", e.srv.URL, bytes10.ID, i), strings.NewReader("1234"))
			if resp, err := e.srv.Client().Do(req); err == nil {
				resp.Body.Close()
				codes <- fmt.Sprintf("bytes %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(codes)
	count := map[string]int{}
	for c := range codes {
		count[c]++
	}
	if count["files 201"] != 3 || count["files 403"] != n-3 || count["bytes 201"] != 2 || count["bytes 413"] != n-2 {
		t.Fatalf("answers %v: want 3 files and 2 of 4 bytes taken, the rest refused", count)
	}
	inc, _ := os.ReadDir(filepath.Join(e.dir, "incoming"))
	docs, _ := os.ReadDir(filepath.Join(e.dir, "docs"))
	if len(inc) != 3 || len(docs) != 1+2 {
		t.Fatalf("incoming holds %d files, docs %d: want 3, and a.md and 2", len(inc), len(docs))
	}
}

// TestFileKeeper: links outlive the process in their state file, written
// whole or not at all, readable by its owner only.
func TestFileKeeper(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "drops.json")
	k, err := drops.OpenFile(state)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{keeper: k})
	c := e.create(t, map[string]any{"path": "incoming", "expires": "1h", "max_files": 2, "label": "ann"})
	if a := e.put(t, c.ID, "a.txt", "a"); a.status != 201 {
		t.Fatal(a.status)
	}
	fi, err := os.Stat(state)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file %v, %v: want mode 0600", fi, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(state))
	if len(ents) != 1 {
		t.Fatalf("the state folder holds %d files, want the state file alone (no temp file left)", len(ents))
	}

	// A new process: the same file, the same link, its counts.
	k2, err := drops.OpenFile(state)
	if err != nil {
		t.Fatal(err)
	}
	l2 := drops.New(drops.Config{Keeper: k2})
	link, err := l2.Open(context.Background(), c.ID)
	if err != nil || link.Label != "ann" || link.Files != 1 || link.Path != "incoming" {
		t.Fatalf("after a restart: %+v, %v", link, err)
	}
	// Compare-and-swap: a change from an old revision is refused.
	key := ""
	entries, _ := k2.List(context.Background())
	for _, en := range entries {
		key = en.Key
		if err := k2.Update(context.Background(), en.Key, en.Value, en.Rev+1); !errors.Is(err, drops.ErrConflict) {
			t.Fatalf("update from a wrong revision: %v, want ErrConflict", err)
		}
		if err := k2.Create(context.Background(), en.Key, en.Value); !errors.Is(err, drops.ErrConflict) {
			t.Fatalf("create of an existing key: %v, want ErrConflict", err)
		}
	}
	if _, _, err := k2.Get(context.Background(), key+"x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("get of a missing key: %v", err)
	}
	// A state file that cannot be read stops the start rather than
	// forgetting every link.
	bad := filepath.Join(t.TempDir(), "drops.json")
	os.WriteFile(bad, []byte("{"), 0o600)
	if _, err := drops.OpenFile(bad); err == nil {
		t.Fatal("a broken state file opened")
	}
}

// TestNeverLogsID: the id is the key; logs name a link by its Ref.
func TestNeverLogsID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.create(t, map[string]any{"path": "incoming", "expires": "1h", "max_files": 1})
	e.put(t, c.ID, "a.txt", "a")
	e.put(t, c.ID, "a.txt", "a")
	e.put(t, c.ID, ".env", "a")
	e.do(t, "GET", "/_/drop/"+c.ID+"/a.txt", nil)
	e.do(t, "DELETE", "/_/drops/"+c.ID, nil)
	e.put(t, c.ID, "b.txt", "b")
	logs := e.logs.String()
	if strings.Contains(logs, c.ID) || strings.Contains(logs, c.ID[:12]) {
		t.Fatalf("the logs hold the id:\n%s", logs)
	}
	if !strings.Contains(logs, "link="+drops.Ref(c.ID)) {
		t.Fatalf("the logs do not name the link by its ref %s:\n%s", drops.Ref(c.ID), logs)
	}
}

// TestReadOnly: a read-only store takes no link and no upload, whatever
// links it has.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	k := drops.Memory()
	rw := newEnv(t, envOpts{keeper: k})
	c := rw.create(t, map[string]any{"path": "incoming", "expires": "1h"})
	ro := newEnv(t, envOpts{keeper: k, files: files.Config{ReadOnly: true}})
	os.MkdirAll(filepath.Join(ro.dir, "incoming"), 0o755)
	if a := ro.do(t, "POST", "/_/drops", strings.NewReader(`{"path":"incoming","expires":"1h"}`)); a.status != 403 {
		t.Fatalf("create on a read-only server: %d", a.status)
	}
	if a := ro.put(t, c.ID, "x.txt", "x"); a.status != 403 {
		t.Fatalf("upload on a read-only server: %d", a.status)
	}
	if ents, _ := os.ReadDir(filepath.Join(ro.dir, "incoming")); len(ents) != 0 {
		t.Fatalf("written: %v", ents)
	}
}
