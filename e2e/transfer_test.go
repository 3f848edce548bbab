package e2e

// End-to-end tests of uploads and folder downloads as the room sees them,
// on the harness of hub_test.go (run() on a loopback port, real clients):
// upload-progress, upload-finish and upload-abort frames reach a member, a
// cut upload resumes, and zip downloads appear in the feed.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seeded returns n pseudo-random bytes and their sha256 in hex.
func seeded(n int, seed byte) ([]byte, string) {
	var key [32]byte
	key[0] = seed
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

// cutUpload sends a PUT over raw TCP that promises total bytes, sends
// part, and drops the connection.
func cutUpload(t *testing.T, ts *harness.Server, target string, part []byte, total int) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testutil.Timeout))
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", target, ts.Addr, total)
	if _, err := conn.Write(part); err != nil {
		t.Fatal(err)
	}
}

// readUpload reads until an upload-* frame of path of the given kind,
// returning it and the upload-progress frames of path on the way.
func readUpload(cl *testutil.Client, kind, path string) (testutil.Frame, []testutil.Frame) {
	cl.T.Helper()
	var progress []testutil.Frame
	f, _ := cl.ReadUntil(func(f testutil.Frame) bool {
		if f.Str("path") != path {
			return false
		}
		if f.Kind() == "upload-progress" && kind != "upload-progress" {
			progress = append(progress, f)
		}
		return f.Kind() == kind
	})

	return f, progress
}

func TestUploadFramesReachRoom(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-upload")
	watcher := harness.Dial(t, ts, "name=watcher") // default room: anonymous uploads go there
	anon := "anonymous (127.0.0.1)"

	t.Run("progress and finish", func(t *testing.T) {
		// A paced upload, so that it lasts long enough for throttled
		// progress: 16 KiB a tick until the room saw three reports.
		body, sum := seeded(8<<20, 1)
		pr, pw := io.Pipe()
		enough := make(chan struct{})
		go func() {
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			rest := body
			for len(rest) > 0 {
				select {
				case <-enough:
					pw.Write(rest)
					rest = nil
					continue
				case <-tick.C:
				}
				n := min(16<<10, len(rest))
				if _, err := pw.Write(rest[:n]); err != nil {
					return
				}
				rest = rest[n:]
			}
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPut, ts.URL+"/up.bin", pr)
		req.ContentLength = int64(len(body))
		status := make(chan int, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				status <- 0
				return
			}
			resp.Body.Close()
			status <- resp.StatusCode
		}()
		start := time.Now()
		var progress []testutil.Frame
		for len(progress) < 3 {
			f, _ := watcher.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "upload-progress" && f.Str("path") == "up.bin" })
			progress = append(progress, f)
		}
		close(enough)
		fin, more := readUpload(watcher, "upload-finish", "up.bin")
		el := time.Since(start)
		progress = append(progress, more...)
		if code := <-status; code != 201 {
			t.Fatalf("PUT = %d", code)
		}
		if fin.Obj("by").Str("name") != anon || fin.Obj("by").Str("id") != "" || fin.Num("size") != float64(len(body)) || fin.Str("sha256") != sum {
			t.Errorf("upload-finish %v", fin)
		}
		last := -1.0
		for i, p := range progress {
			if p.Obj("by").Str("name") != anon || p.Num("size") != float64(len(body)) || p.Num("received") <= last && i > 0 || (i == 0 && p.Num("received") != 0) {
				t.Errorf("progress %d: %v (after %v)", i, p, last)
			}
			last = p.Num("received")
		}
		// One at the start, then at most one per 250 ms.
		if limit := 2 + int(el/(250*time.Millisecond)); len(progress) > limit {
			t.Errorf("%d progress frames in %v, want at most %d", len(progress), el, limit)
		}
		e := watcher.ReadKind("feed").Obj("event")
		if e.Str("action") != "upload" || e.Str("path") != "up.bin" || e.Num("bytes") != float64(len(body)) {
			t.Errorf("feed %v", e)
		}
	})

	t.Run("abort", func(t *testing.T) {
		cutUpload(t, ts, "/cut.bin", make([]byte, 256<<10), 1<<20)
		ab, progress := readUpload(watcher, "upload-abort", "cut.bin")
		if ab.Str("reason") != "interrupted" || ab.Num("received") != 256<<10 || ab.Obj("by").Str("name") != anon {
			t.Errorf("upload-abort %v", ab)
		}
		if len(progress) == 0 || progress[0].Num("received") != 0 || progress[0].Num("size") != 1<<20 {
			t.Errorf("no start progress before the abort: %v", progress)
		}
		if _, err := os.Stat(filepath.Join(ts.Dir, "cut.bin")); !os.IsNotExist(err) {
			t.Errorf("cut.bin exists: %v", err)
		}
	})

	t.Run("resume", func(t *testing.T) {
		const size = 2 << 20
		body, sum := seeded(size, 2)
		const key = "e2e-resume-key"
		cutUpload(t, ts, "/docs/res.bin?resume="+key, body[:size/2], size)
		ab, _ := readUpload(watcher, "upload-abort", "docs/res.bin")
		if ab.Str("reason") != "interrupted" || ab.Num("received") != size/2 {
			t.Fatalf("upload-abort %v", ab)
		}
		req, _ := http.NewRequest(http.MethodHead, ts.URL+"/docs/res.bin?resume="+key, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		off, _ := strconv.Atoi(resp.Header.Get("Upload-Offset"))
		if off != size/2 {
			t.Fatalf("Upload-Offset %q", resp.Header.Get("Upload-Offset"))
		}
		req, _ = http.NewRequest(http.MethodPut, ts.URL+"/docs/res.bin?resume="+key, bytes.NewReader(body[off:]))
		req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, size-1, size))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("resumed PUT = %d", resp.StatusCode)
		}
		fin, progress := readUpload(watcher, "upload-finish", "docs/res.bin")
		if fin.Str("sha256") != sum || fin.Num("size") != size {
			t.Errorf("upload-finish %v, want sha256 %s", fin, sum)
		}
		if len(progress) == 0 || progress[0].Num("received") != size/2 {
			t.Errorf("the resumed upload did not start at %d: %v", size/2, progress)
		}
		got, err := os.ReadFile(filepath.Join(ts.Dir, "docs", "res.bin"))
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("docs/res.bin differs from the original (%d bytes, %v)", len(got), err)
		}
	})

	t.Run("attributed", func(t *testing.T) {
		// The page's cookie names the uploader and its room.
		jar, _ := cookiejar.New(nil)
		carol := harness.DialJar(t, ts, "room=team&name=carol", jar)
		req, _ := http.NewRequest(http.MethodPut, ts.URL+"/carol.txt", strings.NewReader("from carol"))
		resp, err := (&http.Client{Jar: jar}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		fin, progress := readUpload(carol, "upload-finish", "carol.txt")
		by := fin.Obj("by")
		if by.Str("name") != "carol" || by.Str("id") != carol.Welcome.Obj("you").Str("id") || len(progress) != 1 {
			t.Errorf("upload-finish %v after %v", fin, progress)
		}
	})

	t.Run("zip in the feed", func(t *testing.T) {
		resp, body := harness.Get(t, nil, ts.URL+"/docs/?zip")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
			t.Fatalf("GET /docs/?zip = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		e, _ := watcher.ReadUntil(func(f testutil.Frame) bool {
			return f.Kind() == "feed" && f.Obj("event").Str("path") == "docs/?zip"
		})

		if ev := e.Obj("event"); ev.Str("action") != "fetch" || ev.Str("via") != "http" || ev.Num("bytes") != float64(len(body)) {
			t.Errorf("feed %v", ev)
		}
		// The root's zip is at /?zip, which is the page's URL otherwise.
		resp, _ = harness.Get(t, nil, ts.URL+"/?zip")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
			t.Errorf("GET /?zip = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

// TestResumeAcrossGracefulStop: a resumable upload still receiving when the
// server is stopped (SIGTERM, a restart) keeps what arrived. The stop cuts
// its body, so it saves its state at once instead of being killed with
// the process at the end of the shutdown's 10 s; its client is told 503
// (try again), and goes on from the held offset with the next server.
func TestResumeAcrossGracefulStop(t *testing.T) {
	t.Parallel()
	dir := harness.LabDir(t)
	ts := harness.Start(t, dir, "-upload")
	const size = 1 << 20
	body, sum := seeded(size, 3)
	const key = "graceful-stop-key"
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testutil.Timeout))
	fmt.Fprintf(conn, "PUT /docs/stop.bin?resume=%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", key, ts.Addr, size)
	if _, err := conn.Write(body[:size/2]); err != nil { // and the connection stays open
		t.Fatal(err)
	}
	// The server wrote some of it: the filesystem offers nothing to wait on.
	const written = 256 << 10
	for deadline := time.Now().Add(testutil.Timeout); ; time.Sleep(2 * time.Millisecond) {
		parts, _ := filepath.Glob(filepath.Join(dir, "docs", ".filehub-tmp-*.part"))
		if len(parts) == 1 {
			if fi, err := os.Stat(parts[0]); err == nil && fi.Size() >= written {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the upload wrote nothing")
		}
	}
	start := time.Now()
	ts.Stop() // run must return nil
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the stop took %v: it waited for the upload", d)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the cut upload got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("the cut upload = %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	ts = harness.Start(t, dir, "-upload")
	req, _ := http.NewRequest(http.MethodHead, ts.URL+"/docs/stop.bin?resume="+key, nil)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	off, _ := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	if off < written || off > size/2 {
		t.Fatalf("after the restart Upload-Offset %q, want %d to %d", resp.Header.Get("Upload-Offset"), written, size/2)
	}
	req, _ = http.NewRequest(http.MethodPut, ts.URL+"/docs/stop.bin?resume="+key, bytes.NewReader(body[off:]))
	req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, size-1, size))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(string(out), sum) {
		t.Fatalf("resumed PUT = %d %s, want 201 with sha256 %s", resp.StatusCode, out, sum)
	}
}

// TestStopCutsStalledUpload: a plain upload still sending when the server
// stops has the 10 s every request gets, then is cut; the stop is a clean
// one all the same (run returns nil: exit status 0), and the cut upload
// leaves no temp file behind, as any upload cut off mid-body.
func TestStopCutsStalledUpload(t *testing.T) {
	t.Parallel()
	dir := harness.LabDir(t)
	ts := harness.Start(t, dir, "-upload")
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /docs/stalled.bin HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", ts.Addr, 1<<20)
	if _, err := conn.Write(make([]byte, 4096)); err != nil { // and nothing more
		t.Fatal(err)
	}
	temps := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "docs", ".filehub-tmp-*"))
		return m
	}
	// The upload began: the filesystem offers nothing to wait on.
	for deadline := time.Now().Add(testutil.Timeout); len(temps()) == 0; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the upload did not begin")
		}
	}
	ts.Stop() // run must return nil
	if left := temps(); len(left) != 0 {
		t.Errorf("the cut upload left %v", left)
	}
	if _, err := os.Stat(filepath.Join(dir, "docs", "stalled.bin")); !os.IsNotExist(err) {
		t.Errorf("docs/stalled.bin: %v", err)
	}
}
