package files_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filehub/files"
)

// starts returns env options whose uploads report their start on the
// channel (the clean path), once they hold their slot and before they read
// a byte.
func starts(cfg files.Config) (opts, chan string) {
	ch := make(chan string, 64)
	cfg.Uploads = true
	var hooks files.Hooks
	hooks.OnUploadProgress = func(r *http.Request, path string, received, size int64) {
		if received == 0 { // the start of a new upload; later reports count bytes
			select {
			case ch <- path:
			default:
			}
		}
	}
	return opts{cfg: cfg, hooks: hooks}, ch
}

// waitStarts waits for n uploads to have started.
func waitStarts(t *testing.T, ch <-chan string, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d uploads started", i, n)
		}
	}
}

// TestResumePieceLimits: a piece that would take an upload past MaxUpload
// is refused before a byte is read, whether or not the total is known, and
// what is held stays.
func TestResumePieceLimits(t *testing.T) {
	t.Parallel()
	const limit = 4096
	e := newEnv(t, opts{cfg: files.Config{Uploads: true, MaxUpload: limit}})
	body := randomBytes(2*limit, 12)
	put := func(key, cr string, b []byte) (*http.Response, string) {
		t.Helper()
		return e.do(t, http.MethodPut, "/lim.bin?resume="+key, map[string]string{"Content-Range": cr}, bytes.NewReader(b))
	}
	for _, tc := range []struct {
		key, cr    string
		start, end int
		want       int
		held       int64
	}{
		{"unknown-total", "bytes 0-4095/*", 0, 4095, 204, 4096},
		{"unknown-total", "bytes 4096-8191/*", 4096, 8191, 413, 4096}, // was 204: 8 KiB held under a 4 KiB limit
		{"unknown-total", "bytes 4096-4096/*", 4096, 4096, 413, 4096},
		{"one-big-piece", "bytes 0-4096/*", 0, 4096, 413, 0},
		{"stated-total", "bytes 0-1023/2048", 0, 1023, 204, 1024},
		{"stated-total", "bytes 1024-3071/*", 1024, 3071, 400, 1024}, // ends past the total stated before
		{"stated-total", "bytes 1024-2047/*", 1024, 2047, 201, 0},
	} {
		resp, out := put(tc.key+"-key", tc.cr, body[tc.start:tc.end+1])
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d %q, want %d", tc.key, tc.cr, resp.StatusCode, out, tc.want)
		}
		if n := offset(t, e, "/lim.bin", tc.key+"-key"); n != tc.held {
			t.Errorf("%s after %s holds %d, want %d", tc.key, tc.cr, n, tc.held)
		}
		if tc.want == 201 {
			if got := readFile(t, filepath.Join(e.dir, "lim.bin")); got != string(body[:2048]) {
				t.Errorf("lim.bin holds %d bytes, not the body", len(got))
			}
		}
	}
}

// TestStalledUploadsYield: resumable uploads that went silent hold their
// slots only until the idle timeout; then they wait like any cut upload,
// and a new upload evicts the oldest instead of being refused.
func TestStalledUploadsYield(t *testing.T) {
	t.Parallel()
	const slots = 4
	o, started := starts(files.Config{MaxPartials: slots, MaxPartialsPerClient: slots, BodyIdleTimeout: 300 * time.Millisecond})
	e := newEnv(t, o)
	var stalled []*slowConn
	for i := range slots {
		c := dialFrom(t, e, "")
		c.start(t, "PUT", fmt.Sprintf("/stall%d.bin?resume=stalled-key-%d", i, i), "Content-Length: 1000")
		c.send(t, "0123456789")
		stalled = append(stalled, c)
	}
	waitStarts(t, started, slots)
	// All slots are receiving: a new upload has to wait for the idle timeout.
	for i, c := range stalled {
		if resp, body := c.response(t); resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("stalled upload %d = %d %q, want 408", i, resp.StatusCode, body)
		}
	}
	resp, out := e.do(t, http.MethodPut, "/fresh.bin?resume=fresh-key-01", nil, strings.NewReader("fresh"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a new upload after the stalled ones = %d %q, want 201", resp.StatusCode, out)
	}
	// One stalled upload (whichever went idle first) made room; the others
	// still hold what they received.
	var held []int64
	for i := range slots {
		held = append(held, offset(t, e, fmt.Sprintf("/stall%d.bin", i), fmt.Sprintf("stalled-key-%d", i)))
	}
	slices.Sort(held)
	if fmt.Sprint(held) != "[0 10 10 10]" {
		t.Errorf("the stalled uploads hold %v bytes, want one evicted and three with 10", held)
	}
}

// TestPartialsPerClient: one client cannot take every slot; other clients,
// and the same client's plain uploads, still get through.
func TestPartialsPerClient(t *testing.T) {
	t.Parallel()
	o, started := starts(files.Config{MaxPartials: 8, MaxPartialsPerClient: 2, BodyIdleTimeout: time.Minute})
	let := make(chan string, 8) // the uploads that let go of their partial, cut off
	o.hooks.OnUploadAbort = func(r *http.Request, path string, received int64, err error) { let <- path }
	e := newEnv(t, o)
	var stalled []*slowConn
	for i := range 2 {
		c := dialFrom(t, e, "127.0.0.1")
		c.start(t, "PUT", fmt.Sprintf("/mine%d.bin?resume=client-key-%d", i, i), "Content-Length: 1000")
		c.send(t, "0123456789")
		stalled = append(stalled, c)
	}
	waitStarts(t, started, 2)

	third := dialFrom(t, e, "127.0.0.1")
	third.start(t, "PUT", "/mine2.bin?resume=client-key-2", "Content-Length: 5", "Connection: close")
	third.send(t, "third")
	if resp, body := third.response(t); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a third upload from the same client = %d %q (Retry-After %q), want 503 with Retry-After",
			resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	other := dialFrom(t, e, "127.0.0.2")
	other.start(t, "PUT", "/other.bin?resume=other-key-01", "Content-Length: 5", "Connection: close")
	other.send(t, "other")
	if resp, body := other.response(t); resp.StatusCode != http.StatusCreated {
		t.Errorf("an upload from another client = %d %q, want 201", resp.StatusCode, body)
	}
	plain := dialFrom(t, e, "127.0.0.1")
	plain.start(t, "PUT", "/plain.bin", "Content-Length: 5", "Connection: close")
	plain.send(t, "plain")
	if resp, body := plain.response(t); resp.StatusCode != http.StatusCreated {
		t.Errorf("a plain upload from the same client = %d %q, want 201", resp.StatusCode, body)
	}

	// One of the two lets go (its connection drops): its slot is free.
	stalled[0].Close()
	select {
	case p := <-let:
		if p != "mine0.bin" {
			t.Fatalf("%s let go, not mine0.bin", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the dropped upload did not let go")
	}
	if resp, _ := e.do(t, http.MethodHead, "/mine0.bin?resume=client-key-0", nil, nil); resp.Header.Get("Upload-Offset") != "10" {
		t.Errorf("the dropped upload holds %q bytes, want 10", resp.Header.Get("Upload-Offset"))
	}
	again := dialFrom(t, e, "127.0.0.1")
	again.start(t, "PUT", "/mine2.bin?resume=client-key-2", "Content-Length: 5", "Connection: close")
	again.send(t, "again")
	if resp, body := again.response(t); resp.StatusCode != http.StatusCreated {
		t.Errorf("after a slot came free = %d %q, want 201", resp.StatusCode, body)
	}
}

// TestPartialBytesWhileReceiving: MaxPartialBytes holds at every moment,
// counting the uploads receiving, not only those waiting; an upload that
// finds no room is refused and keeps what it wrote.
func TestPartialBytesWhileReceiving(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20 // MaxPartialBytes is then 1 MiB too
	e := newEnv(t, opts{cfg: files.Config{Uploads: true, MaxUpload: limit, MaxPartialBytes: limit}})
	a := randomBytes(768<<10, 13)
	b := randomBytes(600<<10, 14)

	pw, status := pipePut(t, e, "/a.bin?resume=bytes-key-a")
	if _, err := pw.Write(a); err != nil {
		t.Fatal(err)
	}
	// A is receiving (its body has not ended) and wrote three 256 KiB chunks.
	waitFor(t, "A's 768 KiB on disk", func() bool {
		for _, p := range temps(t, e.dir) {
			if fi, err := os.Stat(p); err == nil && fi.Size() == 768<<10 {
				return true
			}
		}
		return false
	})
	// B's first 256 KiB fill the 1 MiB; the next are refused.
	resp, out := e.do(t, http.MethodPut, "/b.bin?resume=bytes-key-b", nil, bytes.NewReader(b))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("B with A receiving = %d %q, want 503 (1 MiB would be exceeded)", resp.StatusCode, out)
	}
	held := offset(t, e, "/b.bin", "bytes-key-b")
	if held != 256<<10 {
		t.Fatalf("B holds %d bytes beside A's 768 KiB, want 256 KiB", held)
	}

	pw.Close()
	if code := <-status; code != http.StatusCreated {
		t.Fatalf("A = %d", code)
	}
	cr := fmt.Sprintf("bytes %d-%d/%d", held, len(b)-1, len(b))
	resp, out = e.do(t, http.MethodPut, "/b.bin?resume=bytes-key-b", map[string]string{"Content-Range": cr}, bytes.NewReader(b[held:]))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("B resumed = %d %q", resp.StatusCode, out)
	}
	for name, want := range map[string][]byte{"a.bin": a, "b.bin": b} {
		if got := readFile(t, filepath.Join(e.dir, name)); got != string(want) {
			t.Errorf("%s holds %d bytes, not the body", name, len(got))
		}
	}
}
