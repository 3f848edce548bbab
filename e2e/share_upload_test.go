package e2e

// Shared while uploading (PUT ?share=1), tried as people would: a page
// uploads slowly, two others in its room watch the file arrive before the
// upload ends, one joins half-way, and all end with the same bytes and
// sha256; an upload cut off ends every stream with an error.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// growingReader reads one member's growing stream: it returns the bytes
// received so far on each call to wait, until the stream ends.
type growingReader struct {
	cl     *testutil.Client
	stream uint32
	got    bytes.Buffer
	end    testutil.Frame   // file-end or error
	others []testutil.Frame // the other text frames read meanwhile
}

// start reads until this member's shared frame with a stream and its
// file-start, checking what they say.
func startGrowing(t *testing.T, cl *testutil.Client, path string, size int64) *growingReader {
	t.Helper()
	sh := cl.ReadKind("shared")
	if sh.Str("path") != path || sh.Num("stream") == 0 || sh.Str("content") != "" {
		t.Fatalf("shared %v", sh)
	}
	fs := cl.ReadKind("file-start")
	if fs.Num("stream") != sh.Num("stream") || fs["growing"] != true || int64(fs.Num("size")) != size {
		t.Fatalf("file-start %v after %v", fs, sh)
	}
	return &growingReader{cl: cl, stream: uint32(sh.Num("stream"))}
}

// readUntil reads the stream until it holds at least n bytes, or it ends.
func (g *growingReader) readUntil(t *testing.T, n int) {
	t.Helper()
	for g.end == nil && g.got.Len() < n {
		g.cl.Conn.SetReadDeadline(time.Now().Add(testutil.Timeout))
		typ, data, err := g.cl.Conn.ReadMessage()
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if typ == websocket.BinaryMessage {
			if binary.BigEndian.Uint32(data) != g.stream {
				t.Fatalf("a chunk of stream %d, want %d", binary.BigEndian.Uint32(data), g.stream)
			}
			g.got.Write(data[4:])
			continue
		}
		f := testutil.Frame{}
		if err := jsonUnmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if (f.Kind() == "file-end" || f.Kind() == "error") && uint32(f.Num("stream")) == g.stream {
			g.end = f
		} else {
			g.others = append(g.others, f)
		}
	}
}

func TestShareAsItUploads(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, t.TempDir(), "-upload")
	jar, _ := cookiejar.New(nil)
	uploader := harness.DialJar(t, ts, "room=up&name=uploader", jar)
	ann := harness.Dial(t, ts, "room=up&name=ann")
	bob := harness.Dial(t, ts, "room=up&name=bob")

	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	sum := sha256.Sum256(body)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, ts.URL+"/handout.bin?share=1", pr)
	req.ContentLength = int64(len(body))
	done := make(chan *http.Response, 1)
	go func() {
		res, err := (&http.Client{Jar: jar}).Do(req)
		if err != nil {
			t.Error(err)
			done <- nil
			return
		}
		done <- res
	}()
	// The first megabyte, then the upload waits: both members must be
	// receiving it before the rest is even sent.
	if _, err := pw.Write(body[:1<<20]); err != nil {
		t.Fatal(err)
	}
	ga := startGrowing(t, ann, "handout.bin", int64(len(body)))
	gb := startGrowing(t, bob, "handout.bin", int64(len(body)))
	ga.readUntil(t, 64<<10)
	gb.readUntil(t, 64<<10)
	if ga.end != nil || gb.end != nil {
		t.Fatal("the stream ended before the upload did")
	}
	// Someone joins half-way: the upload from byte 0.
	cid := harness.Dial(t, ts, "room=up&name=cid")
	gc := startGrowing(t, cid, "handout.bin", int64(len(body)))
	if _, err := pw.Write(body[1<<20:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	res := <-done
	if res == nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %v", res)
	}
	res.Body.Close()
	for _, g := range []*growingReader{ga, gb, gc} {
		g.readUntil(t, len(body)+1)
		if g.end.Kind() != "file-end" || g.end.Str("sha256") != hex.EncodeToString(sum[:]) || !bytes.Equal(g.got.Bytes(), body) {
			t.Fatalf("%s: %d bytes, end %v", g.cl.Name(), g.got.Len(), g.end)
		}
	}
	// The feed says it was shared, for pages that join later; the uploader
	// was sent no stream of its own bytes.
	isShare := func(f testutil.Frame) bool { return f.Kind() == "feed" && f.Obj("event").Str("action") == "share" }
	var ev testutil.Frame
	for _, f := range ga.others {
		if isShare(f) {
			ev = f
		}
	}
	if ev == nil {
		ev, _ = ann.ReadUntil(isShare)
	}
	if e := ev.Obj("event"); e.Str("path") != "handout.bin" || e.Str("who") != "uploader" {
		t.Fatalf("share event %v", e)
	}
	for _, f := range uploader.Barrier() {
		if f.Kind() == "file-start" || f.Kind() == "shared" && f.Num("stream") != 0 {
			t.Fatalf("the uploader was sent its own bytes: %v", f)
		}
	}
}

func TestShareUploadCutOff(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, t.TempDir(), "-upload")
	jar, _ := cookiejar.New(nil)
	harness.DialJar(t, ts, "room=cut&name=uploader", jar)
	ann := harness.Dial(t, ts, "room=cut&name=ann")
	// A raw connection, cut after 100 KiB of a 1 MiB body: a laptop lid
	// closing mid-upload.
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(ts.URL)
	var cookies []string
	for _, c := range jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	fmt.Fprintf(conn, "PUT /cut.bin?share=1 HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nCookie: %s\r\n\r\n",
		ts.Addr, 1<<20, strings.Join(cookies, "; "))
	conn.Write(bytes.Repeat([]byte("x"), 100<<10))
	g := startGrowing(t, ann, "cut.bin", 1<<20)
	g.readUntil(t, 64<<10)
	conn.Close()
	g.readUntil(t, 1<<20+1)
	if g.end.Kind() != "error" || g.end.Str("code") != "aborted" {
		t.Fatalf("a cut upload ended with %v after %d bytes", g.end, g.got.Len())
	}
	// Sharing as it uploads is for a plain upload.
	req, _ := http.NewRequest(http.MethodPut, ts.URL+"/r.bin?share=1&resume=abcdefgh", bytes.NewReader([]byte("x")))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("share with resume: %s", res.Status)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
