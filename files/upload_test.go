package files_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filehub/files"
)

// waitFor polls a condition on the filesystem, which offers nothing to
// wait on, until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestPut(t *testing.T) {
	t.Parallel()
	uploads := make(chan files.PutResult, 8)
	e := newEnv(t, opts{cfg: files.Config{Uploads: true}, hooks: files.Hooks{OnUpload: func(r *http.Request, res files.PutResult) {
		uploads <- res
	}}})
	for _, tc := range []struct {
		name, target, body string
		want               int
		file, content      string // the file afterwards, "" for none
	}{
		{"new", "/new.txt", "first", 201, "new.txt", "first"},
		{"exists", "/new.txt", "second", 409, "new.txt", "first"},
		{"overwrite", "/new.txt?overwrite=1", "third", 200, "new.txt", "third"},
		{"overwrite true", "/new.txt?overwrite=true", "fourth", 200, "new.txt", "fourth"},
		{"overwrite other", "/new.txt?overwrite=0", "fifth", 409, "new.txt", "fourth"},
		{"overwrite new", "/fresh.txt?overwrite=1", "fresh", 201, "fresh.txt", "fresh"},
		{"in folder", "/docs/sub/n%C3%BC.md", "# nü\n", 201, "docs/sub/nü.md", "# nü\n"},
		{"empty", "/empty.bin", "", 201, "empty.bin", ""},
		{"missing parent", "/no/such/x.txt", "x", 404, "", ""},
		{"over folder", "/docs", "x", 403, "", ""},
		{"over folder overwrite", "/docs?overwrite=1", "x", 403, "", ""},
		{"folder name", "/docs/", "x", 400, "", ""},
		{"root", "/", "x", 400, "", ""},
		{"reserved", "/_/x", "x", 404, "", ""},
		{"hidden", "/.bashrc", "x", 404, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, http.MethodPut, tc.target, nil, strings.NewReader(tc.body))
			if resp.StatusCode != tc.want {
				t.Fatalf("PUT %s = %d %q, want %d", tc.target, resp.StatusCode, body, tc.want)
			}
			if tc.want < 300 {
				var got map[string]any
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"path": tc.file, "size": float64(len(tc.body)), "sha256": sum(tc.body)}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("reply %v, want %v", got, want)
				}
				// OnUpload runs before the reply is written, so it is there now.
				select {
				case res := <-uploads:
					if res.Path != tc.file || res.SHA256 != sum(tc.body) || res.Created != (tc.want == 201) {
						t.Errorf("OnUpload %+v", res)
					}
				default:
					t.Errorf("no OnUpload before the reply")
				}
				if loc := resp.Header.Get("Location"); (tc.want == 201) != (loc != "") {
					t.Errorf("Location %q with %d", loc, tc.want)
				}
			}
			if tc.file != "" {
				if got := readFile(t, filepath.Join(e.dir, filepath.FromSlash(tc.file))); got != tc.content {
					t.Errorf("%s holds %q, want %q", tc.file, got, tc.content)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(e.dir, "no")); !os.IsNotExist(err) {
		t.Errorf("PUT created a folder: %v", err)
	}
	if len(uploads) != 0 {
		t.Errorf("OnUpload for a failed PUT: %+v", <-uploads)
	}
	if tmp := temps(t, e.dir); len(tmp) != 1 {
		t.Errorf("temp files left: %q", tmp)
	}
}

func TestUploadsOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	for _, target := range []string{"/new.txt", "/myfile1.txt?overwrite=1", "/../x", "/_/x"} {
		resp, body := e.do(t, http.MethodPut, target, nil, strings.NewReader("x"))
		if resp.StatusCode != 403 || body != "403 forbidden\n" {
			t.Errorf("PUT %s = %d %q, want 403", target, resp.StatusCode, body)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "new.txt")); !os.IsNotExist(err) {
		t.Errorf("new.txt: %v", err)
	}
	if got := readFile(t, filepath.Join(e.dir, "myfile1.txt")); got != "hello from myfile1\n" {
		t.Errorf("myfile1.txt now %q", got)
	}
}

// chunked hides a reader's length so the client sends it chunked, with no
// Content-Length for the server to refuse early.
type chunked struct{ io.Reader }

func TestPutTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 1024
	e := newEnv(t, opts{cfg: files.Config{Uploads: true, MaxUpload: limit}})
	big := strings.Repeat("x", 4*limit)
	for _, tc := range []struct {
		name, target string
		body         io.Reader
		want         int
	}{
		{"content-length", "/big1.bin", strings.NewReader(big), 413},
		{"content-length overwrite", "/myfile1.txt?overwrite=1", strings.NewReader(big), 413},
		{"chunked", "/big2.bin", chunked{strings.NewReader(big)}, 413},
		{"chunked one over", "/big3.bin", chunked{strings.NewReader(big[:limit+1])}, 413},
		{"exactly the limit", "/fits.bin", chunked{strings.NewReader(big[:limit])}, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, http.MethodPut, tc.target, nil, tc.body)
			if resp.StatusCode != tc.want {
				t.Fatalf("got %d %q, want %d", resp.StatusCode, body, tc.want)
			}
		})
	}
	for _, name := range []string{"big1.bin", "big2.bin", "big3.bin"} {
		if _, err := os.Stat(filepath.Join(e.dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s exists after 413: %v", name, err)
		}
	}
	if got := readFile(t, filepath.Join(e.dir, "myfile1.txt")); got != "hello from myfile1\n" {
		t.Errorf("myfile1.txt now %q", got)
	}
	if tmp := temps(t, e.dir); len(tmp) != 1 {
		t.Errorf("temp files left: %q", tmp)
	}
}

// TestPutCutOff drops the connection halfway through a body: the temp file
// must go and no final file appear.
func TestPutCutOff(t *testing.T) {
	t.Parallel()
	done := make(chan string, 1)
	e := newEnv(t, opts{
		cfg: files.Config{Uploads: true},
		wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(w, r)
				done <- r.URL.Path
			})
		},
		setup: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ".filehub-tmp-abc")) },
	})
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	const size = 1 << 20
	fmt.Fprintf(conn, "PUT /docs/cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	if _, err := conn.Write(bytes.Repeat([]byte("c"), size/2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the upload's temp file", func() bool { return len(temps(t, e.dir)) == 1 })
	conn.Close()
	select {
	case p := <-done:
		if p != "/docs/cut.bin" {
			t.Fatalf("handler for %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return")
	}
	if tmp := temps(t, e.dir); len(tmp) != 0 {
		t.Errorf("temp files left: %q", tmp)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "docs", "cut.bin")); !os.IsNotExist(err) {
		t.Errorf("cut.bin exists: %v", err)
	}
}

// pipePut starts a PUT whose body the caller writes piece by piece.
func pipePut(t *testing.T, e *env, target string) (*io.PipeWriter, <-chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, e.srv.URL+target, pr)
	if err != nil {
		t.Fatal(err)
	}
	status := make(chan int, 1)
	go func() {
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			pr.CloseWithError(err)
			status <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	t.Cleanup(func() { pw.CloseWithError(io.ErrClosedPipe) })
	return pw, status
}

// TestPutWhileReading replaces a file while readers fetch it: every read
// sees the whole old body or the whole new one.
func TestPutWhileReading(t *testing.T) {
	t.Parallel()
	const size = 512 << 10
	oldBody, newBody := strings.Repeat("o", size), strings.Repeat("n", size)
	e := newEnv(t, opts{
		cfg:   files.Config{Uploads: true},
		setup: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "swap.bin"), oldBody) },
	})
	check := func(got string) string {
		switch got {
		case oldBody:
			return "old"
		case newBody:
			return "new"
		}
		return fmt.Sprintf("a torn body of %d bytes", len(got))
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bgErr error
	wg.Go(func() { // a reader in a loop, racing the upload
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := e.srv.Client().Get(e.srv.URL + "/swap.bin")
			if err != nil {
				bgErr = err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				bgErr = err
				return
			}
			if got := check(string(b)); got != "old" && got != "new" {
				bgErr = fmt.Errorf("reader saw %s", got)
				return
			}
		}
	})

	pw, status := pipePut(t, e, "/swap.bin?overwrite=1")
	const pieces = 8
	for i := range pieces {
		if _, err := io.WriteString(pw, newBody[i*size/pieces:(i+1)*size/pieces]); err != nil {
			t.Fatal(err)
		}
		// The upload is not finished: readers still get the old file, whole.
		_, body := e.do(t, http.MethodGet, "/swap.bin", nil, nil)
		if got := check(body); got != "old" {
			t.Fatalf("after piece %d a reader saw %s", i, got)
		}
	}
	pw.Close()
	if code := <-status; code != 200 {
		t.Fatalf("PUT = %d", code)
	}
	_, body := e.do(t, http.MethodGet, "/swap.bin", nil, nil)
	if got := check(body); got != "new" {
		t.Fatalf("after the upload a reader saw %s", got)
	}
	close(stop)
	wg.Wait()
	if bgErr != nil {
		t.Fatal(bgErr)
	}
}

// TestPutConcurrentOverwrite runs two uploads to one name at once: exactly
// one of the two bodies is left, whole.
func TestPutConcurrentOverwrite(t *testing.T) {
	t.Parallel()
	const size = 256 << 10
	e := newEnv(t, opts{
		cfg:   files.Config{Uploads: true},
		setup: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ".filehub-tmp-abc")) },
	})
	bodies := []string{strings.Repeat("x", size), strings.Repeat("y", size)}
	var pws []*io.PipeWriter
	var statuses []<-chan int
	for range bodies {
		pw, st := pipePut(t, e, "/race.bin?overwrite=1")
		pws, statuses = append(pws, pw), append(statuses, st)
	}
	for i, pw := range pws {
		if _, err := io.WriteString(pw, bodies[i][:size/2]); err != nil {
			t.Fatal(err)
		}
	}
	// Both uploads hold a temp file now: they really overlap.
	waitFor(t, "two temp files", func() bool { return len(temps(t, e.dir)) == 2 })
	for i, pw := range pws {
		if _, err := io.WriteString(pw, bodies[i][size/2:]); err != nil {
			t.Fatal(err)
		}
		pw.Close()
	}
	for i, st := range statuses {
		if code := <-st; code != 200 && code != 201 {
			t.Errorf("PUT %d = %d", i, code)
		}
	}
	got := readFile(t, filepath.Join(e.dir, "race.bin"))
	if got != bodies[0] && got != bodies[1] {
		t.Errorf("race.bin is torn: %d bytes starting %q", len(got), got[:min(len(got), 8)])
	}
	if tmp := temps(t, e.dir); len(tmp) != 0 {
		t.Errorf("temp files left: %q", tmp)
	}
}

// TestPutNoOverwriteRace runs several uploads without overwrite to one new
// name: exactly one wins, the rest get 409, and the winner's body is whole.
func TestPutNoOverwriteRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{cfg: files.Config{Uploads: true}})
	const n = 4
	var pws []*io.PipeWriter
	var statuses []<-chan int
	for range n {
		pw, st := pipePut(t, e, "/once.txt")
		pws, statuses = append(pws, pw), append(statuses, st)
	}
	// Every upload has passed the early existence check before any ends.
	waitFor(t, "all temp files", func() bool { return len(temps(t, e.dir)) == n+1 })
	for i, pw := range pws {
		fmt.Fprintf(pw, "body %d", i)
		pw.Close()
	}
	created := 0
	for i, st := range statuses {
		switch code := <-st; code {
		case 201:
			created++
		case 409:
		default:
			t.Errorf("PUT %d = %d", i, code)
		}
	}
	got := readFile(t, filepath.Join(e.dir, "once.txt"))
	if created != 1 || !strings.HasPrefix(got, "body ") || len(got) != len("body 0") {
		t.Errorf("%d created, once.txt = %q", created, got)
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	for _, name := range []string{
		".filehub-tmp-old", "docs/.filehub-tmp-old", "docs/sub/.filehub-tmp-old",
		".filehub-tmp-new", "docs/.filehub-tmp-new", ".cache/.filehub-tmp-old", "keep-old.txt",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		writeFile(t, p, "partial")
		if strings.HasSuffix(name, "old") || strings.HasSuffix(name, "old.txt") {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err := files.Open(dir, files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var left []string
	for _, p := range temps(t, dir) {
		rel, _ := filepath.Rel(dir, p)
		left = append(left, filepath.ToSlash(rel))
	}
	// Hidden folders are not searched: uploads cannot reach them.
	want := []string{".cache/.filehub-tmp-old", ".filehub-tmp-new", "docs/.filehub-tmp-new"}
	if fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("left %q, want %q", left, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep-old.txt")); err != nil {
		t.Errorf("an old ordinary file was swept: %v", err)
	}
}

// TestPutFolderMoved: a folder renamed or removed while an upload into it
// arrives. The upload's temp file moved with it, so linking it in place
// would put the file somewhere else than the answer says (the folder's new
// name, a hidden folder, or outside the served folder): it is refused as
// for a folder that is gone (404), and leaves nothing, wherever it went.
func TestPutFolderMoved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target string // the upload
		change func(dir string) error
		look   string // the folder the temp file went with
	}{
		{"renamed", "/docs/x.bin", func(dir string) error {
			return os.Rename(filepath.Join(dir, "docs"), filepath.Join(dir, "moved"))
		}, "moved"},
		{"replaced", "/docs/x.bin", func(dir string) error {
			if err := os.Rename(filepath.Join(dir, "docs"), filepath.Join(dir, "old")); err != nil {
				return err
			}
			return os.Mkdir(filepath.Join(dir, "docs"), 0o755)
		}, "old"},
		{"resumable, renamed", "/docs/x.bin?resume=moved-key-1", func(dir string) error {
			return os.Rename(filepath.Join(dir, "docs"), filepath.Join(dir, "moved"))
		}, "moved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, opts{cfg: files.Config{Uploads: true}})
			pw, status := pipePut(t, e, tc.target)
			if _, err := pw.Write([]byte("first half ")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the temp file", func() bool { return len(temps(t, filepath.Join(e.dir, "docs"))) > 0 })
			if err := tc.change(e.dir); err != nil {
				t.Fatal(err)
			}
			io.WriteString(pw, "second half")
			pw.Close()
			if code := <-status; code != http.StatusNotFound {
				t.Errorf("the upload = %d, want 404", code)
			}
			for _, d := range []string{"docs", tc.look} {
				if _, err := os.Stat(filepath.Join(e.dir, d, "x.bin")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s/x.bin: %v", d, err)
				}
				if left := temps(t, filepath.Join(e.dir, d)); len(left) != 0 {
					t.Errorf("left %v", left)
				}
			}
		})
	}
}
