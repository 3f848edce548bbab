package files_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filehub/files"
)

// slowConn is a raw connection to e's server, for requests whose body the
// test sends byte by byte, or not at all.
type slowConn struct {
	net.Conn
	br *bufio.Reader
}

// dialFrom connects to e's server from the loopback address local ("" for
// any): Linux answers the whole of 127.0.0.0/8, so tests can be several
// clients.
func dialFrom(t *testing.T, e *env, local string) *slowConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// No read in these tests may wait longer: a missing timeout fails fast.
	c.SetDeadline(time.Now().Add(15 * time.Second))
	return &slowConn{Conn: c, br: bufio.NewReader(c)}
}

// start sends a request's head: hdr holds the header lines after Host.
func (c *slowConn) start(t *testing.T, method, target string, hdr ...string) {
	t.Helper()
	head := method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(hdr, "\r\n")
	if len(hdr) > 0 {
		head += "\r\n"
	}
	if _, err := io.WriteString(c, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
}

// send writes bytes of the body.
func (c *slowConn) send(t *testing.T, b string) {
	t.Helper()
	if _, err := io.WriteString(c, b); err != nil {
		t.Fatal(err)
	}
}

// response reads the answer, waiting as long as the connection's deadline.
func (c *slowConn) response(t *testing.T) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.br, nil)
	for err == nil && resp.StatusCode < 200 { // 100 Continue: the answer follows
		resp, err = http.ReadResponse(c.br, nil)
	}
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestBodyIdle: a body that sends nothing for BodyIdleTimeout is cut and
// answered 408, whatever the upload; a plain upload leaves nothing, a
// resumable one keeps what arrived.
func TestBodyIdle(t *testing.T) {
	t.Parallel()
	const idle = 300 * time.Millisecond
	var ev events
	o := ev.opts(files.Config{BodyIdleTimeout: idle})
	o.setup = func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ".filehub-tmp-abc")) }
	e := newEnv(t, o)
	for _, tc := range []struct {
		name, target string
		hdr          []string
		sent         string
		held         int64 // Upload-Offset afterwards, -1: not resumable
	}{
		{"plain", "/idle-plain.bin", []string{"Content-Length: 1000"}, "0123456789", -1},
		{"plain, nothing sent", "/idle-none.bin", []string{"Content-Length: 1000"}, "", -1},
		{"chunked", "/idle-chunked.bin", []string{"Transfer-Encoding: chunked"}, "a\r\n0123456789\r\n", -1},
		{"expect 100-continue", "/idle-expect.bin", []string{"Content-Length: 1000", "Expect: 100-continue"}, "", -1},
		{"overwrite", "/myfile1.txt?overwrite=1", []string{"Content-Length: 1000"}, "0123456789", -1},
		{"resumable", "/idle-resume.bin?resume=idle-key-123", []string{"Content-Length: 1000"}, "0123456789", 10},
		{"resumable piece", "/idle-piece.bin?resume=idle-key-456", []string{"Content-Length: 100", "Content-Range: bytes 0-99/1000"}, "0123456789", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialFrom(t, e, "")
			c.start(t, "PUT", tc.target, tc.hdr...)
			c.send(t, tc.sent)
			start := time.Now()
			resp, body := c.response(t)
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("got %d %q, want 408", resp.StatusCode, body)
			}
			if waited := time.Since(start); waited < idle/2 {
				t.Errorf("cut after %v, before the idle timeout of %v", waited, idle)
			}
			if !resp.Close {
				t.Errorf("the connection is kept after a cut body")
			}
			if tc.held >= 0 {
				target, key, _ := strings.Cut(tc.target, "?resume=")
				if n := offset(t, e, target, key); n != tc.held {
					t.Errorf("holds %d bytes, want %d", n, tc.held)
				}
			}
		})
	}
	if got := readFile(t, filepath.Join(e.dir, "myfile1.txt")); got != "hello from myfile1\n" {
		t.Errorf("myfile1.txt now %q", got)
	}
	for _, name := range []string{"idle-plain.bin", "idle-none.bin", "idle-chunked.bin", "idle-expect.bin", "idle-resume.bin"} {
		if _, err := os.Stat(filepath.Join(e.dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	data := 0 // the two resumable uploads hold their bytes; nothing else is left
	for _, p := range temps(t, e.dir) {
		if !strings.HasSuffix(p, ".state") {
			data++
		}
	}
	if data != 2 {
		t.Errorf("temp files: %q", temps(t, e.dir))
	}
	for _, got := range ev.take() {
		if strings.HasPrefix(got, "abort") && !strings.HasSuffix(got, "incomplete") {
			t.Errorf("an idle body's abort is not an interruption: %s", got)
		}
	}
}

// TestBodySlowButSteady: a body that keeps sending, however slowly, is
// never cut by the idle timeout; one that drips a byte at a time is.
func TestBodySlowButSteady(t *testing.T) {
	t.Parallel()
	const idle = time.Second
	// The idle rule alone: the minimum rate of resumable uploads is
	// TestResumableMinRate's.
	e := newEnv(t, opts{cfg: files.Config{Uploads: true, BodyIdleTimeout: idle, MinResumableRate: -1}})
	for _, tc := range []struct {
		name, target string
		piece        int // bytes every idle/10, for 1.5 × idle
		want         int
	}{
		{"steady", "/steady.bin", 200, http.StatusCreated}, // 2 KiB per idle
		{"steady, resumable", "/steady-r.bin?resume=steady-key-1", 200, http.StatusCreated},
		{"drip", "/drip.bin", 1, http.StatusRequestTimeout}, // 10 bytes per idle: a slow loris
		{"drip, resumable", "/drip-r.bin?resume=drip-key-12", 1, http.StatusRequestTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const n = 15
			c := dialFrom(t, e, "")
			c.start(t, "PUT", tc.target, fmt.Sprintf("Content-Length: %d", n*tc.piece))
			// The client sends until it is done or has its answer, which
			// for a cut body comes while it still sends.
			stop, sent := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(sent)
				tick := time.NewTicker(idle / 10) // pacing a slow client, not synchronising
				defer tick.Stop()
				for i := range n {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := io.WriteString(c, strings.Repeat(string(rune('a'+i)), tc.piece)); err != nil {
						return
					}
				}
			}()
			resp, body := c.response(t)
			close(stop)
			<-sent
			if resp.StatusCode != tc.want {
				t.Fatalf("got %d %q, want %d", resp.StatusCode, body, tc.want)
			}
		})
	}
}
