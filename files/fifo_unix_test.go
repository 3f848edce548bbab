//go:build unix

package files_test

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filehub/files"
)

// hangLimit is how long an operation on a FIFO may take before the test
// calls it a hang: opening never waits for the other end, so anything near
// it is a bug, not a slow machine.
const hangLimit = 5 * time.Second

// mkfifo makes a named pipe, skipping the test where there are none.
func mkfifo(t *testing.T, name string) {
	t.Helper()
	if err := syscall.Mkfifo(name, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
}

// mksock makes a unix socket at name, listening until the test ends.
func mksock(t *testing.T, name string) {
	t.Helper()
	ln, err := net.Listen("unix", name)
	if err != nil {
		t.Skip("no unix socket here:", err)
	}
	t.Cleanup(func() { ln.Close() })
}

// releaseFIFOs opens every FIFO under dir at both ends, without blocking,
// and closes them again: a reader or a writer stuck in open(2) on one of
// them (the bug these tests catch) is let go, so that a hang fails its test
// instead of wedging httptest.Server.Close, which waits for every handler.
func releaseFIFOs(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeNamedPipe == 0 {
			return nil
		}
		r, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0) // never blocks; lets a writer go
		if err != nil {
			return nil
		}
		if w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil { // lets a reader go
			w.Close()
		}
		r.Close()
		return nil
	})
}

// within runs fn and fails the test if it has not returned after hangLimit.
func within(t *testing.T, what string, dir string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(hangLimit):
		releaseFIFOs(dir)
		<-done
		t.Fatalf("%s hung on a FIFO (released after %v)", what, hangLimit)
	}
}

// specialEnv is a served folder holding a FIFO and a unix socket in docs/,
// and a FIFO and a socket in place of folders.
func specialEnv(t *testing.T, cfg files.Config) *env {
	t.Helper()
	e := newEnv(t, opts{cfg: cfg, setup: func(t *testing.T, dir string) {
		mkfifo(t, filepath.Join(dir, "docs", "pipe.txt"))
		mkfifo(t, filepath.Join(dir, "pipedir"))
		mksock(t, filepath.Join(dir, "docs", "sock"))
	}})
	// Registered after newEnv's: runs before the server is closed.
	t.Cleanup(func() { releaseFIFOs(e.dir) })
	return e
}

// TestSpecialFilesHTTP: FIFOs and sockets are 404 to every request, at
// once, and are never replaced by an upload.
func TestSpecialFilesHTTP(t *testing.T) {
	t.Parallel()
	e := specialEnv(t, files.Config{Uploads: true})
	for _, tc := range []struct {
		method, target string
		want           int
	}{
		{"GET", "/docs/pipe.txt", 404},
		{"HEAD", "/docs/pipe.txt", 404},
		{"GET", "/docs/pipe.txt/", 404}, // a listing of a FIFO: open(2) waited for a writer
		{"HEAD", "/docs/pipe.txt/", 404},
		{"GET", "/pipedir/", 404},
		{"GET", "/pipedir/?zip", 404},
		{"GET", "/docs/pipe.txt/?zip", 404},
		{"GET", "/docs/sock", 404}, // open(2) of a socket fails with ENXIO: was a 500
		{"GET", "/docs/sock/", 404},
		{"GET", "/docs/sock/?zip", 404},
		{"PUT", "/docs/pipe.txt", 404},
		{"PUT", "/docs/pipe.txt?overwrite=1", 404}, // not replaced: it is not the Store's
		{"PUT", "/docs/sock?overwrite=1", 404},
		{"PUT", "/docs/pipe.txt?resume=fifo-key-1&overwrite=1", 404},
		{"PUT", "/pipedir/x.txt", 404},
		{"PUT", "/docs/pipe.txt/x.txt", 404},
	} {
		t.Run(tc.method+tc.target, func(t *testing.T) {
			within(t, tc.method+" "+tc.target, e.dir, func() {
				var body io.Reader
				if tc.method == "PUT" {
					body = strings.NewReader("replaced")
				}
				req, err := http.NewRequest(tc.method, e.srv.URL+tc.target, body)
				if err != nil {
					t.Error(err)
					return
				}
				c := *e.srv.Client()
				c.Timeout = hangLimit + time.Second
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("%s %s = %d, want %d", tc.method, tc.target, resp.StatusCode, tc.want)
				}
			})
		})
	}
	for _, name := range []string{"docs/pipe.txt", "pipedir", "docs/sock"} {
		if fi, err := os.Lstat(filepath.Join(e.dir, filepath.FromSlash(name))); err != nil || fi.Mode().IsRegular() {
			t.Errorf("%s was replaced: %v %v", name, fi, err)
		}
	}
}

// TestSpecialFilesStore: the Store's own methods (which the room's
// WebSocket list and get use) refuse FIFOs and sockets without blocking.
func TestSpecialFilesStore(t *testing.T) {
	t.Parallel()
	e := specialEnv(t, files.Config{Uploads: true})
	for _, name := range []string{"docs/pipe.txt", "pipedir", "docs/sock"} {
		t.Run(name, func(t *testing.T) {
			within(t, "List", e.dir, func() {
				if _, err := e.store.List(name); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("List(%q) = %v, want not exist", name, err)
				}
			})
			within(t, "Stat", e.dir, func() {
				if _, err := e.store.Stat(name); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Stat(%q) = %v, want not exist", name, err)
				}
			})
			within(t, "Open", e.dir, func() {
				f, _, err := e.store.Open(name)
				if err == nil {
					f.Close()
				}
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Open(%q) = %v, want not exist", name, err)
				}
			})
			within(t, "WriteZip", e.dir, func() {
				if err := e.store.WriteZip(discardWriter{}, name); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("WriteZip(%q) = %v, want not exist", name, err)
				}
			})
		})
	}
	within(t, "List(docs)", e.dir, func() {
		entries, err := e.store.List("docs")
		if err != nil {
			t.Error(err)
		}
		for _, en := range entries {
			if en.Name == "pipe.txt" || en.Name == "sock" {
				t.Errorf("listed: %+v", en)
			}
		}
	})
	within(t, "WriteZip(.)", e.dir, func() {
		if err := e.store.WriteZip(discardWriter{}, "."); err != nil {
			t.Errorf("WriteZip(.) = %v", err)
		}
	})
}

// TestSpecialFilesSweep: opening a Store never blocks on FIFOs or sockets
// named like temp files, partial uploads or their state, nor on a FIFO
// where a folder was, and removes none of them.
func TestSpecialFilesSweep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := time.Now().Add(-48 * time.Hour)
	names := []string{
		".filehub-tmp-OLDFIFO",
		".filehub-tmp-" + strings.Repeat("ab", 32) + ".part",
		".filehub-tmp-" + strings.Repeat("ab", 32) + ".state",
		".filehub-tmp-" + strings.Repeat("cd", 32) + ".state",
		"sub/.filehub-tmp-" + strings.Repeat("ef", 32) + ".state",
		"pipedir",
	}
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mkfifo(t, p)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	mksock(t, filepath.Join(dir, ".filehub-tmp-SOCK"))
	t.Cleanup(func() { releaseFIFOs(dir) })
	within(t, "files.Open", dir, func() {
		s, err := files.Open(dir, files.Config{Uploads: true, PartialTTL: time.Nanosecond})
		if err != nil {
			t.Error(err)
			return
		}
		s.Close()
	})
	for _, name := range names {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSpecialFilesResume: a partial upload's temp file replaced by a FIFO
// (by someone with access to the folder) is refused at once when the
// upload goes on, and the upload can start over.
func TestSpecialFilesResume(t *testing.T) {
	t.Parallel()
	e, done := doneEnv(t, opts{cfg: files.Config{Uploads: true}})
	t.Cleanup(func() { releaseFIFOs(e.dir) })
	body := randomBytes(4000, 11)
	const key = "fifo-resume-key"
	cutPut(t, e, done, "/docs/f.bin?resume="+key, nil, body[:1000], len(body))
	var data []string
	for _, p := range temps(t, e.dir) {
		if !strings.HasSuffix(p, ".state") {
			data = append(data, p)
		}
	}
	if len(data) != 1 {
		t.Fatalf("temp files %q", data)
	}
	if err := os.Remove(data[0]); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, data[0])
	within(t, "the resumed PUT", e.dir, func() {
		resp, out := e.do(t, http.MethodPut, "/docs/f.bin?resume="+key,
			map[string]string{"Content-Range": "bytes 1000-3999/4000"}, strings.NewReader(string(body[1000:])))
		if resp.StatusCode != 404 && resp.StatusCode != 409 {
			t.Errorf("resumed PUT onto a FIFO = %d %q, want 404 or 409", resp.StatusCode, out)
		}
	})
	within(t, "the PUT from the start", e.dir, func() {
		resp, out := e.do(t, http.MethodPut, "/docs/f.bin?resume="+key, nil, strings.NewReader(string(body)))
		if resp.StatusCode != 201 {
			t.Errorf("PUT from 0 = %d %q", resp.StatusCode, out)
		}
	})
	if got := readFile(t, filepath.Join(e.dir, "docs", "f.bin")); got != string(body) {
		t.Errorf("f.bin holds %d bytes, not the body", len(got))
	}
}
