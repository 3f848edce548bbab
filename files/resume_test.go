package files_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filehub/files"
)

// randomBytes returns n seeded pseudo-random bytes.
func randomBytes(n int, seed byte) []byte {
	var key [32]byte
	key[0] = seed
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// events records the upload callbacks of a Store, in order.
type events struct {
	mu  sync.Mutex
	log []string
}

func (ev *events) add(format string, args ...any) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.log = append(ev.log, fmt.Sprintf(format, args...))
}

func (ev *events) take() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	l := ev.log
	ev.log = nil
	return l
}

// opts returns env options with uploads on and hooks that record into ev;
// progress after the start is not recorded (it depends on timing), only
// counted.
func (ev *events) opts(cfg files.Config) opts {
	cfg.Uploads = true
	var hooks files.Hooks
	hooks.OnUpload = func(r *http.Request, res files.PutResult) {
		ev.add("finish %s %d %s", res.Path, res.Size, res.SHA256)
	}
	hooks.OnUploadProgress = func(r *http.Request, path string, received, size int64) {
		ev.add("progress %s %d %d", path, received, size)
	}
	hooks.OnUploadAbort = func(r *http.Request, path string, received int64, err error) {
		reason := "other"
		switch {
		case errors.Is(err, files.ErrIncomplete):
			reason = "incomplete"
		case errors.Is(err, files.ErrTooLarge):
			reason = "too large"
		case errors.Is(err, files.ErrBadRange):
			reason = "bad range"
		}
		ev.add("abort %s %d %s", path, received, reason)
	}
	return opts{cfg: cfg, hooks: hooks}
}

// cutPut sends a PUT over raw TCP whose headers promise the whole body but
// which sends only body, then drops the connection, and waits for the
// handler to be done with it (done receives the path of each request the
// wrapped handler finished).
func cutPut(t *testing.T, e *env, done <-chan string, target string, hdr map[string]string, body []byte, total int) {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", target, total)
	for k, v := range hdr {
		req += k + ": " + v + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return after the cut")
	}
}

// doneEnv is newEnv with a handler that reports each finished request.
func doneEnv(t *testing.T, o opts) (*env, chan string) {
	done := make(chan string, 16)
	o.wrap = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			done <- r.URL.Path
		})
	}
	o.setup = func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ".filehub-tmp-abc")) }
	return newEnv(t, o), done
}

// offset asks how many bytes of the upload key to target are held.
func offset(t *testing.T, e *env, target, key string) int64 {
	t.Helper()
	resp, _ := e.do(t, http.MethodHead, target+"?resume="+key, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("HEAD %s?resume=%s = %d", target, key, resp.StatusCode)
	}
	n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatalf("Upload-Offset %q: %v", resp.Header.Get("Upload-Offset"), err)
	}
	return n
}

// TestResumeAfterCut cuts an upload at 50% (raw TCP), then resumes it: the
// file equals the original, with its sha256, and was never visible before.
func TestResumeAfterCut(t *testing.T) {
	t.Parallel()
	var ev events
	e, done := doneEnv(t, ev.opts(files.Config{}))
	const size = 1 << 20
	body := randomBytes(size, 7)
	const key = "k3y-0123456789"
	cutPut(t, e, done, "/docs/big.bin?resume="+key, nil, body[:size/2], size)

	off := offset(t, e, "/docs/big.bin", key)
	if off != size/2 {
		t.Fatalf("Upload-Offset %d after sending %d bytes", off, size/2)
	}
	if got := ev.take(); fmt.Sprint(got) != fmt.Sprint([]string{
		fmt.Sprintf("progress docs/big.bin 0 %d", size),
		fmt.Sprintf("abort docs/big.bin %d incomplete", size/2),
	}) {
		t.Errorf("callbacks of the cut: %q", got)
	}
	// The partial is two hidden temp files, its bytes and its state: not
	// listed, not served, not there.
	if tmp := temps(t, e.dir); len(tmp) != 2 || !strings.HasSuffix(tmp[0], ".part") || !strings.HasSuffix(tmp[1], ".state") {
		t.Errorf("temp files while held: %q", tmp)
	}
	if resp, _ := e.do(t, http.MethodGet, "/docs/big.bin", nil, nil); resp.StatusCode != 404 {
		t.Errorf("GET of the partial upload = %d", resp.StatusCode)
	}
	entries, _ := e.store.List("docs")
	for _, en := range entries {
		if strings.Contains(en.Name, "big") || strings.HasPrefix(en.Name, ".") {
			t.Errorf("listed while partial: %+v", en)
		}
	}
	// A GET with ?resume answers the same in JSON.
	_, js := e.do(t, http.MethodGet, "/docs/big.bin?resume="+key, nil, nil)
	if want := fmt.Sprintf(`{"path":"docs/big.bin","offset":%d,"size":%d}`, size/2, size); strings.TrimSpace(js) != want {
		t.Errorf("GET ?resume = %s, want %s", js, want)
	}

	cr := fmt.Sprintf("bytes %d-%d/%d", off, size-1, size)
	resp, out := e.do(t, http.MethodPut, "/docs/big.bin?resume="+key, map[string]string{"Content-Range": cr}, bytes.NewReader(body[off:]))
	if resp.StatusCode != 201 {
		t.Fatalf("resumed PUT = %d %q", resp.StatusCode, out)
	}
	var res files.PutResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.SHA256 != sum(string(body)) || res.Size != size {
		t.Fatalf("reply %s: %v", out, err)
	}
	if got := readFile(t, filepath.Join(e.dir, "docs", "big.bin")); got != string(body) {
		t.Fatalf("the resumed file differs from the original (%d bytes)", len(got))
	}
	got := ev.take()
	if len(got) < 2 || got[0] != fmt.Sprintf("progress docs/big.bin %d %d", size/2, size) ||
		got[len(got)-1] != fmt.Sprintf("finish docs/big.bin %d %s", size, sum(string(body))) {
		t.Errorf("callbacks of the resume: %q", got)
	}
	if tmp := temps(t, e.dir); len(tmp) != 0 {
		t.Errorf("temp files left: %q", tmp)
	}
	if n := offset(t, e, "/docs/big.bin", key); n != 0 {
		t.Errorf("Upload-Offset %d after the upload finished", n)
	}
}

// TestResumePieces sends a file in pieces, as a client that uploads a
// range at a time would, with a wrong piece in between.
func TestResumePieces(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{cfg: files.Config{Uploads: true}})
	body := randomBytes(3000, 8)
	const key = "pieces-key-1"
	put := func(start, end int, total string) (*http.Response, string) {
		t.Helper()
		cr := fmt.Sprintf("bytes %d-%d/%s", start, end, total)
		return e.do(t, http.MethodPut, "/pieces.bin?resume="+key, map[string]string{"Content-Range": cr}, bytes.NewReader(body[start:end+1]))
	}
	for _, tc := range []struct {
		start, end int
		total      string
		want       int
		offset     string // Upload-Offset of the answer
	}{
		{0, 999, "*", 204, "1000"},
		{500, 1499, "3000", 409, "1000"}, // not where the held bytes end
		{1000, 1999, "3000", 204, "2000"},
		{2000, 2999, "2999", 400, ""}, // the total changed (and END ≥ TOTAL)
		{2000, 2999, "3000", 201, ""},
	} {
		resp, out := put(tc.start, tc.end, tc.total)
		if resp.StatusCode != tc.want || resp.Header.Get("Upload-Offset") != tc.offset {
			t.Fatalf("bytes %d-%d/%s: %d %q Upload-Offset %q, want %d %q", tc.start, tc.end, tc.total,
				resp.StatusCode, out, resp.Header.Get("Upload-Offset"), tc.want, tc.offset)
		}
	}
	if got := readFile(t, filepath.Join(e.dir, "pieces.bin")); got != string(body) {
		t.Fatal("the pieces do not make the file")
	}
}

// TestResumeRefused: what a resumable upload refuses, and that a refusal
// leaves nothing behind.
func TestResumeRefused(t *testing.T) {
	t.Parallel()
	const limit = 4096
	e := newEnv(t, opts{cfg: files.Config{Uploads: true, MaxUpload: limit}})
	for _, tc := range []struct {
		name, target string
		hdr          map[string]string
		body         io.Reader
		want         int
		offset       string
	}{
		{"no partial to go on from", "/a.bin?resume=key-abcdefgh", map[string]string{"Content-Range": "bytes 10-19/20"}, strings.NewReader("0123456789"), 409, "0"},
		{"short key", "/a.bin?resume=k", nil, strings.NewReader("x"), 400, ""},
		{"bad key", "/a.bin?resume=key/../abcdef", nil, strings.NewReader("x"), 400, ""},
		{"total over the limit", "/a.bin?resume=key-abcdefgh", map[string]string{"Content-Range": "bytes 0-9/5000"}, strings.NewReader("0123456789"), 413, ""},
		{"body over the limit", "/a.bin?resume=key-abcdefgh", nil, chunked{strings.NewReader(strings.Repeat("x", limit+1))}, 413, ""},
		{"range without resume", "/a.bin", map[string]string{"Content-Range": "bytes 0-9/20"}, strings.NewReader("0123456789"), 400, ""},
		{"malformed range", "/a.bin?resume=key-abcdefgh", map[string]string{"Content-Range": "bytes 0-x/20"}, strings.NewReader("0"), 400, ""},
		{"end past total", "/a.bin?resume=key-abcdefgh", map[string]string{"Content-Range": "bytes 0-20/20"}, strings.NewReader(strings.Repeat("x", 21)), 400, ""},
		{"length disagrees", "/a.bin?resume=key-abcdefgh", map[string]string{"Content-Range": "bytes 0-9/20"}, strings.NewReader("01234"), 400, ""},
		{"body longer than range", "/a.bin?resume=key-abcdefgh", map[string]string{"Content-Range": "bytes 0-4/20"}, chunked{strings.NewReader("0123456789")}, 400, ""},
		{"exists", "/myfile1.txt?resume=key-abcdefgh", nil, strings.NewReader("x"), 409, ""},
		{"hidden", "/.env?resume=key-abcdefgh", nil, strings.NewReader("x"), 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := e.do(t, http.MethodPut, tc.target, tc.hdr, tc.body)
			if resp.StatusCode != tc.want || resp.Header.Get("Upload-Offset") != tc.offset {
				t.Fatalf("got %d %q Upload-Offset %q, want %d %q", resp.StatusCode, out, resp.Header.Get("Upload-Offset"), tc.want, tc.offset)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(e.dir, "a.bin")); !os.IsNotExist(err) {
		t.Errorf("a.bin exists: %v", err)
	}
	if tmp := temps(t, e.dir); len(tmp) != 1 { // the fixture's own
		t.Errorf("temp files left: %q", tmp)
	}
	off := newEnv(t, opts{})
	if resp, _ := off.do(t, http.MethodHead, "/a.bin?resume=key-abcdefgh", nil, nil); resp.StatusCode != 403 {
		t.Errorf("HEAD ?resume with uploads off = %d, want 403", resp.StatusCode)
	}
}

// TestResumeStartOver: a request from byte 0 starts a held upload over.
func TestResumeStartOver(t *testing.T) {
	t.Parallel()
	e, done := doneEnv(t, opts{cfg: files.Config{Uploads: true}})
	body := randomBytes(64<<10, 9)
	const key = "over-key-123"
	cutPut(t, e, done, "/over.bin?resume="+key, nil, body[:1000], len(body))
	if n := offset(t, e, "/over.bin", key); n != 1000 {
		t.Fatalf("held %d", n)
	}
	resp, out := e.do(t, http.MethodPut, "/over.bin?resume="+key, nil, bytes.NewReader(body))
	if resp.StatusCode != 201 || readFile(t, filepath.Join(e.dir, "over.bin")) != string(body) {
		t.Fatalf("PUT from 0 = %d %q", resp.StatusCode, out)
	}
	if tmp := temps(t, e.dir); len(tmp) != 0 {
		t.Errorf("temp files left: %q", tmp)
	}
}

// TestResumeTakeover: a connection the server still thinks alive does not
// block its client's resumed upload: the newer request cuts it off.
func TestResumeTakeover(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{cfg: files.Config{Uploads: true}})
	body := randomBytes(256<<10, 10)
	const key = "takeover-key"
	pw, status := pipePut(t, e, "/take.bin?resume="+key)
	if _, err := pw.Write(body[:1000]); err != nil {
		t.Fatal(err)
	}
	// The first request is receiving: its partial exists.
	waitFor(t, "the first request's partial", func() bool { return len(temps(t, e.dir)) == 2 })
	resp, out := e.do(t, http.MethodPut, "/take.bin?resume="+key, nil, bytes.NewReader(body))
	if resp.StatusCode != 201 {
		t.Fatalf("takeover PUT = %d %q", resp.StatusCode, out)
	}
	if code := <-status; code == 201 || code == 200 {
		t.Errorf("the stale request also succeeded: %d", code)
	}
	if got := readFile(t, filepath.Join(e.dir, "take.bin")); got != string(body) {
		t.Fatal("take.bin is not the second body")
	}
}

// TestResumeOffsetWhileReceiving: the page asks for the offset when its
// connection dropped, often before the server saw it die. The answer is
// what the request still receiving wrote, not 0 (the page would start
// over, and the bytes already received would be thrown away); going on
// from it takes that request over and ends with the whole file.
func TestResumeOffsetWhileReceiving(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{cfg: files.Config{Uploads: true}})
	body := randomBytes(600<<10, 11)
	const key = "receiving-key"
	pw, status := pipePut(t, e, "/live.bin?resume="+key)
	if _, err := pw.Write(body[:600<<10-1]); err != nil { // all but the last byte: the request stays open
		t.Fatal(err)
	}
	const written = 512 << 10 // two whole writes of 256 KiB; the rest waits in the server's buffer
	waitFor(t, "the first request's writes", func() bool {
		for _, name := range temps(t, e.dir) {
			if fi, err := os.Stat(name); err == nil && strings.HasSuffix(name, ".part") && fi.Size() == written {
				return true
			}
		}
		return false
	})
	if got := offset(t, e, "/live.bin", key); got != written {
		t.Fatalf("Upload-Offset while receiving = %d, want %d", got, written)
	}
	// The page goes on from there, as after any drop: the stale request is
	// cut, keeps what it buffered, and the answer says where to go on.
	from, tries := int64(written), 0
	for {
		cr := fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body))
		resp, out := e.do(t, http.MethodPut, "/live.bin?resume="+key, map[string]string{"Content-Range": cr}, bytes.NewReader(body[from:]))
		if resp.StatusCode == 201 {
			break
		}
		if tries++; resp.StatusCode != 409 || tries > 2 {
			t.Fatalf("PUT %s = %d %q", cr, resp.StatusCode, out)
		}
		n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
		if err != nil || n < from {
			t.Fatalf("409 with Upload-Offset %q after going on from %d", resp.Header.Get("Upload-Offset"), from)
		}
		from = n
	}
	if code := <-status; code == 201 || code == 200 {
		t.Errorf("the stale request also succeeded: %d", code)
	}
	if got := readFile(t, filepath.Join(e.dir, "live.bin")); got != string(body) {
		t.Fatal("live.bin is not the body")
	}
}

// TestPartialLimits: held partials expire after PartialTTL, and beyond
// MaxPartials the oldest goes first; Close leaves them for the next Store.
func TestPartialLimits(t *testing.T) {
	t.Parallel()
	t.Run("expiry", func(t *testing.T) {
		t.Parallel()
		e, done := doneEnv(t, opts{cfg: files.Config{Uploads: true, PartialTTL: 50 * time.Millisecond}})
		cutPut(t, e, done, "/exp.bin?resume=expiry-key", nil, make([]byte, 1000), 2000)
		// Nothing to wait on: the timer removes the file in the background.
		waitFor(t, "the partial to expire", func() bool { return len(temps(t, e.dir)) == 0 })
		if n := offset(t, e, "/exp.bin", "expiry-key"); n != 0 {
			t.Errorf("Upload-Offset %d after expiry", n)
		}
	})
	t.Run("count", func(t *testing.T) {
		t.Parallel()
		e, done := doneEnv(t, opts{cfg: files.Config{Uploads: true, MaxPartials: 2}})
		for i := range 3 {
			cutPut(t, e, done, fmt.Sprintf("/n%d.bin?resume=count-key", i), nil, make([]byte, 100+i), 1000)
		}
		for i, want := range []int64{0, 101, 102} { // the oldest was dropped
			if n := offset(t, e, fmt.Sprintf("/n%d.bin", i), "count-key"); n != want {
				t.Errorf("n%d.bin holds %d, want %d", i, n, want)
			}
		}
		if tmp := temps(t, e.dir); len(tmp) != 4 { // the bytes and the state of each
			t.Errorf("temp files %q, want 4", tmp)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		t.Parallel()
		e, done := doneEnv(t, opts{cfg: files.Config{Uploads: true, MaxUpload: 1000, MaxPartialBytes: 1500}})
		for i := range 3 {
			cutPut(t, e, done, fmt.Sprintf("/b%d.bin?resume=bytes-key", i), nil, make([]byte, 600), 1000)
		}
		for i, want := range []int64{0, 600, 600} { // 1800 > 1500: the oldest was dropped
			if n := offset(t, e, fmt.Sprintf("/b%d.bin", i), "bytes-key"); n != want {
				t.Errorf("b%d.bin holds %d, want %d", i, n, want)
			}
		}
	})
	t.Run("close", func(t *testing.T) {
		t.Parallel()
		e, done := doneEnv(t, opts{cfg: files.Config{Uploads: true}})
		cutPut(t, e, done, "/c.bin?resume=close-key", nil, make([]byte, 100), 1000)
		if tmp := temps(t, e.dir); len(tmp) != 2 {
			t.Fatalf("temp files %q", tmp)
		}
		e.srv.Close()
		e.store.Close()
		if tmp := temps(t, e.dir); len(tmp) != 2 {
			t.Errorf("temp files after Close: %q, want the partial's two", tmp)
		}
	})
}

// TestUploadProgress: a start report, throttled reports after it, and an
// abort for an upload that does not finish.
func TestUploadProgress(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("p", 1<<20)
	for _, tc := range []struct {
		name  string
		every time.Duration
		check func(t *testing.T, got []string)
	}{
		{"throttled to nothing", time.Hour, func(t *testing.T, got []string) {
			want := []string{"progress up.bin 0 1048576", "finish up.bin 1048576 " + sum(body)}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got %q, want %q", got, want)
			}
		}},
		{"every read", time.Nanosecond, func(t *testing.T, got []string) {
			if len(got) < 3 || got[0] != "progress up.bin 0 1048576" {
				t.Fatalf("got %q", got)
			}
			last := int64(0)
			for _, g := range got[1 : len(got)-1] {
				var p string
				var n, size int64
				if _, err := fmt.Sscanf(g, "progress %s %d %d", &p, &n, &size); err != nil || n <= last || n > 1<<20 || size != 1<<20 {
					t.Fatalf("bad progress %q after %d", g, last)
				}
				last = n
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ev events
			o := ev.opts(files.Config{})
			o.hooks.ProgressInterval = tc.every
			e := newEnv(t, o)
			resp, _ := e.do(t, http.MethodPut, "/up.bin", nil, strings.NewReader(body))
			if resp.StatusCode != 201 {
				t.Fatalf("PUT = %d", resp.StatusCode)
			}
			tc.check(t, ev.take())
		})
	}
	t.Run("refused before receiving", func(t *testing.T) {
		t.Parallel()
		var ev events
		e := newEnv(t, ev.opts(files.Config{MaxUpload: 10}))
		e.do(t, http.MethodPut, "/myfile1.txt", nil, strings.NewReader("x"))                 // 409
		e.do(t, http.MethodPut, "/big.bin", nil, strings.NewReader(strings.Repeat("x", 11))) // 413 from Content-Length
		if got := ev.take(); len(got) != 0 {
			t.Errorf("callbacks for uploads that never started: %q", got)
		}
		e.do(t, http.MethodPut, "/big.bin", nil, chunked{strings.NewReader(strings.Repeat("x", 11))})
		if got := ev.take(); fmt.Sprint(got) != fmt.Sprint([]string{"progress big.bin 0 -1", "abort big.bin 10 too large"}) {
			t.Errorf("over the limit mid-body: %q", got)
		}
	})
	t.Run("cut", func(t *testing.T) {
		t.Parallel()
		var ev events
		e, done := doneEnv(t, ev.opts(files.Config{}))
		cutPut(t, e, done, "/cut.bin", nil, make([]byte, 5000), 10000)
		if got := ev.take(); fmt.Sprint(got) != fmt.Sprint([]string{"progress cut.bin 0 10000", "abort cut.bin 5000 incomplete"}) {
			t.Errorf("got %q", got)
		}
		if tmp := temps(t, e.dir); len(tmp) != 0 {
			t.Errorf("temp files left: %q", tmp)
		}
	})
}
