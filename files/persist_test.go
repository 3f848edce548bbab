package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filehub/files"
)

// node opens another Store on e's folder, with its own server: another
// process serving the same folder (a node behind a load balancer, or the
// same server after a restart). done, when not nil, receives the path of
// each request its handler finished.
func (e *env) node(t *testing.T, cfg files.Config, done chan<- string) *env {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", "B")
	}
	s, err := files.Open(e.dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var h http.Handler = files.Handler(s, files.Hooks{})
	if done != nil {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inner.ServeHTTP(w, r)
			done <- r.URL.Path
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{dir: e.dir, outside: e.outside, store: s, srv: srv}
}

// putRange sends bytes start..end of body as a piece of the upload key.
func putRange(t *testing.T, e *env, target, key string, body []byte, start, end int) (*http.Response, string) {
	t.Helper()
	cr := fmt.Sprintf("bytes %d-%d/%d", start, end, len(body))
	return e.do(t, http.MethodPut, target+"?resume="+key, map[string]string{"Content-Range": cr}, bytes.NewReader(body[start:end+1]))
}

// checkUploaded fails unless the file at target holds body, and the reply
// of its last PUT said so with the right sha256.
func checkUploaded(t *testing.T, e *env, target string, reply string, body []byte) {
	t.Helper()
	var res files.PutResult
	if err := json.Unmarshal([]byte(reply), &res); err != nil {
		t.Fatalf("reply %q: %v", reply, err)
	}
	sum := sha256.Sum256(body)
	if res.SHA256 != hex.EncodeToString(sum[:]) || res.Size != int64(len(body)) {
		t.Errorf("reply %+v, want %d bytes, sha256 %x", res, len(body), sum)
	}
	if got := readFile(t, filepath.Join(e.dir, filepath.FromSlash(strings.TrimPrefix(target, "/")))); got != string(body) {
		t.Errorf("%s holds %d bytes, not the body", target, len(got))
	}
}

// TestResumeRestart: an upload cut on one Store goes on, after that Store
// was closed, on a new Store opened on the same folder.
func TestResumeRestart(t *testing.T) {
	t.Parallel()
	a, done := doneEnv(t, opts{cfg: files.Config{Uploads: true}})
	const size = 1 << 20
	body := randomBytes(size, 21)
	const key = "restart-key-1"
	cutPut(t, a, done, "/docs/big.bin?resume="+key, nil, body[:size/2], size)
	a.srv.Close()
	a.store.Close()

	b := a.node(t, files.Config{Uploads: true}, nil)
	resp, _ := b.do(t, http.MethodHead, "/docs/big.bin?resume="+key, nil, nil)
	if resp.Header.Get("Upload-Offset") != fmt.Sprint(size/2) || resp.Header.Get("Upload-Length") != fmt.Sprint(size) {
		t.Fatalf("after a restart: Upload-Offset %q Upload-Length %q", resp.Header.Get("Upload-Offset"), resp.Header.Get("Upload-Length"))
	}
	resp, out := putRange(t, b, "/docs/big.bin", key, body, size/2, size-1)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("resumed after a restart = %d %q", resp.StatusCode, out)
	}
	checkUploaded(t, b, "/docs/big.bin", out, body)
	if tmp := temps(t, b.dir); len(tmp) != 0 {
		t.Errorf("temp files left: %q", tmp)
	}
}

// TestResumeAcrossNodes: two Stores serve one folder at once, and an
// upload's pieces go to either, as a load balancer would send them.
func TestResumeAcrossNodes(t *testing.T) {
	t.Parallel()
	a := newEnv(t, opts{cfg: files.Config{Uploads: true}})
	b := a.node(t, files.Config{Uploads: true}, nil)
	body := randomBytes(300<<10, 22)
	const key = "nodes-key-123"
	third := len(body) / 3
	for i, step := range []struct {
		node       *env
		start, end int
		want       int
	}{
		{a, 0, third - 1, 204},
		{b, third, 2*third - 1, 204},
		{a, third, 2*third - 1, 409}, // A's own memory says `third`; the folder says more
		{a, 2 * third, len(body) - 1, 201},
	} {
		other := map[*env]*env{a: b, b: a}[step.node]
		if step.want != 409 {
			if n := offset(t, other, "/nodes.bin", key); n != int64(step.start) {
				t.Fatalf("step %d: the other node says %d bytes are held, want %d", i, n, step.start)
			}
		}
		resp, out := putRange(t, step.node, "/nodes.bin", key, body, step.start, step.end)
		if resp.StatusCode != step.want {
			t.Fatalf("step %d: %d %q, want %d", i, resp.StatusCode, out, step.want)
		}
		if step.want == 409 && resp.Header.Get("Upload-Offset") != fmt.Sprint(2*third) {
			t.Errorf("step %d: Upload-Offset %q, want %d", i, resp.Header.Get("Upload-Offset"), 2*third)
		}
		if step.want == 201 {
			checkUploaded(t, a, "/nodes.bin", out, body)
		}
	}
	if tmp := temps(t, a.dir); len(tmp) != 1 { // the fixture's own
		t.Errorf("temp files left: %q", tmp)
	}
}

// TestResumeLockedAcrossNodes: while one Store receives an upload, another
// Store on the same folder refuses to write it (503), whether it goes on or
// starts over, and goes on with it once the first let go.
func TestResumeLockedAcrossNodes(t *testing.T) {
	t.Parallel()
	o, started := starts(files.Config{})
	done := make(chan string, 16)
	a := newEnv(t, opts{cfg: o.cfg, hooks: o.hooks, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			done <- r.URL.Path
		})
	}})
	b := a.node(t, files.Config{Uploads: true}, nil)
	body := randomBytes(200<<10, 23)
	const key = "locked-key-12"

	pw, status := pipePut(t, a, "/locked.bin?resume="+key)
	if _, err := pw.Write(body[:100<<10]); err != nil {
		t.Fatal(err)
	}
	waitStarts(t, started, 1) // A holds the lock from here on
	for _, hdr := range []map[string]string{nil, {"Content-Range": fmt.Sprintf("bytes 0-%d/%d", len(body)-1, len(body))}} {
		resp, out := b.do(t, http.MethodPut, "/locked.bin?resume="+key, hdr, bytes.NewReader(body))
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("B while A receives (%v) = %d %q, want 503 with Retry-After", hdr, resp.StatusCode, out)
		}
	}
	if _, err := os.Stat(filepath.Join(a.dir, "locked.bin")); !os.IsNotExist(err) {
		t.Fatalf("locked.bin appeared: %v", err)
	}

	pw.CloseWithError(errors.New("the client's connection dropped"))
	<-status
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("A's request did not end")
	}
	held := offset(t, b, "/locked.bin", key)
	if held <= 0 || held > 100<<10 {
		t.Fatalf("B sees %d bytes held after A let go", held)
	}
	resp, out := putRange(t, b, "/locked.bin", key, body, int(held), len(body)-1)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("B goes on = %d %q", resp.StatusCode, out)
	}
	checkUploaded(t, b, "/locked.bin", out, body)
}

// TestPartialsSwept: a Store opened on the folder removes partials that
// waited PartialTTL, but never one another Store is receiving; it loads the
// others, and applies MaxPartials to them.
func TestPartialsSwept(t *testing.T) {
	t.Parallel()
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		a, done := doneEnv(t, opts{cfg: files.Config{Uploads: true}})
		cutPut(t, a, done, "/old.bin?resume=swept-key-1", nil, make([]byte, 1000), 2000)
		a.srv.Close()
		a.store.Close()
		if tmp := temps(t, a.dir); len(tmp) != 2 {
			t.Fatalf("temp files %q", tmp)
		}
		b := a.node(t, files.Config{Uploads: true, PartialTTL: time.Nanosecond}, nil)
		if tmp := temps(t, b.dir); len(tmp) != 0 {
			t.Errorf("temp files after the sweep: %q", tmp)
		}
	})
	t.Run("receiving elsewhere", func(t *testing.T) {
		t.Parallel()
		o, started := starts(files.Config{})
		a := newEnv(t, opts{cfg: o.cfg, hooks: o.hooks, setup: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ".filehub-tmp-abc")) }})
		body := randomBytes(300<<10, 24)
		pw, status := pipePut(t, a, "/busy.bin?resume=busy-key-12")
		if _, err := pw.Write(body[:270<<10]); err != nil { // a 256 KiB chunk is on disk
			t.Fatal(err)
		}
		waitStarts(t, started, 1)
		waitFor(t, "A's first chunk on disk", func() bool {
			tmp := temps(t, a.dir)
			if len(tmp) != 1 {
				return false
			}
			fi, err := os.Stat(tmp[0])
			return err == nil && fi.Size() > 0
		})
		a.node(t, files.Config{Uploads: true, PartialTTL: time.Nanosecond}, nil) // its sweep runs now
		if tmp := temps(t, a.dir); len(tmp) != 1 {
			t.Fatalf("the receiving upload's file was swept: %q", tmp)
		}
		if _, err := pw.Write(body[270<<10:]); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		if code := <-status; code != http.StatusCreated {
			t.Fatalf("A = %d", code)
		}
		if got := readFile(t, filepath.Join(a.dir, "busy.bin")); got != string(body) {
			t.Errorf("busy.bin holds %d bytes, not the body", len(got))
		}
	})
	t.Run("limits", func(t *testing.T) {
		t.Parallel()
		a, done := doneEnv(t, opts{cfg: files.Config{Uploads: true}})
		for i := range 3 {
			cutPut(t, a, done, fmt.Sprintf("/l%d.bin?resume=limit-key-1", i), nil, make([]byte, 100+i), 1000)
		}
		a.srv.Close()
		a.store.Close()
		b := a.node(t, files.Config{Uploads: true, MaxPartials: 2}, nil)
		for i, want := range []int64{0, 101, 102} { // the oldest went
			if n := offset(t, b, fmt.Sprintf("/l%d.bin", i), "limit-key-1"); n != want {
				t.Errorf("l%d.bin holds %d, want %d", i, n, want)
			}
		}
	})
}

// TestPartialFiles: a partial's files cannot be found from the path, do
// not hold the key, are never served, listed or overwritten; a state that
// cannot be trusted makes the upload start over.
func TestPartialFiles(t *testing.T) {
	t.Parallel()
	a, done := doneEnv(t, opts{cfg: files.Config{Uploads: true, ShowHidden: true}})
	const key = "secret-key-0123456789"
	cutPut(t, a, done, "/docs/p.bin?resume="+key, nil, []byte("0123456789"), 20)
	tmp := temps(t, a.dir)
	if len(tmp) != 2 {
		t.Fatalf("temp files %q", tmp)
	}
	for _, p := range tmp {
		name := filepath.Base(p)
		if strings.Contains(name, "p.bin") || strings.Contains(name, key) {
			t.Errorf("%s names the upload", name)
		}
		if strings.Contains(readFile(t, p), key) {
			t.Errorf("%s holds the key", name)
		}
		for _, target := range []string{"/docs/" + name, "/docs/" + name + "?download", "/docs/" + name + "?overwrite=1"} {
			method := http.MethodGet
			if strings.HasSuffix(target, "overwrite=1") {
				method = http.MethodPut
			}
			if resp, _ := a.do(t, method, target, nil, strings.NewReader("x")); resp.StatusCode != 404 {
				t.Errorf("%s %s = %d, want 404", method, target, resp.StatusCode)
			}
		}
	}
	entries, err := a.store.List("docs")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if strings.HasPrefix(en.Name, ".filehub-tmp-") {
			t.Errorf("listed with ShowHidden: %+v", en)
		}
	}
	// The state, damaged: the upload starts over rather than trusting it.
	for _, p := range tmp {
		if strings.HasSuffix(p, ".state") {
			if err := os.WriteFile(p, []byte(`{"v":1,"offset":`), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := offset(t, a, "/docs/p.bin", key); n != 0 {
		t.Errorf("a damaged state still says %d bytes", n)
	}
	body := []byte("0123456789abcdefghij")
	resp, out := putRange(t, a, "/docs/p.bin", key, body, 10, 19)
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Upload-Offset") != "0" {
		t.Errorf("going on from a damaged state = %d %q (Upload-Offset %q), want 409 at 0", resp.StatusCode, out, resp.Header.Get("Upload-Offset"))
	}
	resp, out = putRange(t, a, "/docs/p.bin", key, body, 0, 19)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("starting over = %d %q", resp.StatusCode, out)
	}
	checkUploaded(t, a, "/docs/p.bin", out, body)
}

// logWatch is a slog handler that also tells, on a channel, when a record
// with a given message is logged: how a test learns that a timer of the
// Store ran, without sleeping.
type logWatch struct {
	slog.Handler
	msg string
	ch  chan struct{}
}

func (w *logWatch) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == w.msg {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
	return w.Handler.Handle(ctx, r)
}

func (w *logWatch) WithAttrs(as []slog.Attr) slog.Handler {
	return &logWatch{Handler: w.Handler.WithAttrs(as), msg: w.msg, ch: w.ch}
}

// TestExpiryAcrossNodes: a partial that one Store would expire is kept when
// another Store went on with it meanwhile, and goes on on the first.
func TestExpiryAcrossNodes(t *testing.T) {
	t.Parallel()
	watch := &logWatch{
		Handler: slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}),
		msg:     "files: resumable upload went on elsewhere, expires later",
		ch:      make(chan struct{}, 1),
	}
	const ttl = 3 * time.Second
	a := newEnv(t, opts{cfg: files.Config{Uploads: true, PartialTTL: ttl, Logger: slog.New(watch)}})
	b := a.node(t, files.Config{Uploads: true}, nil)
	body := randomBytes(3000, 25)
	const key = "expiry-key-01"
	if resp, out := putRange(t, a, "/exp.bin", key, body, 0, 999); resp.StatusCode != 204 {
		t.Fatalf("the first piece, on A = %d %q", resp.StatusCode, out)
	}
	// The client comes back half a TTL later, to B: time passing is what
	// this test is about (A's timer is due a TTL after the first piece, and
	// must see that B's piece came later), not a way to wait for an event.
	<-time.After(ttl / 2)
	if resp, out := putRange(t, b, "/exp.bin", key, body, 1000, 1999); resp.StatusCode != 204 {
		t.Fatalf("the second piece, on B = %d %q", resp.StatusCode, out)
	}
	select {
	case <-watch.ch: // A's timer ran, and kept the partial
	case <-time.After(10 * time.Second):
		t.Fatal("A's expiry did not run")
	}
	if n := offset(t, a, "/exp.bin", key); n != 2000 {
		t.Fatalf("A says %d bytes are held, want 2000", n)
	}
	resp, out := putRange(t, a, "/exp.bin", key, body, 2000, 2999)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("the last piece on A = %d %q", resp.StatusCode, out)
	}
	checkUploaded(t, a, "/exp.bin", out, body)
}
