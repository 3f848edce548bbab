package e2e

// TestMeasureGiB measures 1 GiB transfers against the real binary, run as
// its own process so that its memory is the server's alone: a streamed get
// over WebSocket, the same file over plain HTTP with curl, an upload with
// PUT (Go's client and curl), and an upload cut at half then resumed. Each
// checks the sha256 and the server's resident memory. It is not part of the
// normal suite (it moves some 6 GiB and needs curl):
//
//	FILEHUB_MEASURE=1 go test -run TestMeasureGiB -count=1 -v .
//
// FILEHUB_MEASURE_DIR sets the scratch folder (default: a new one in /tmp);
// it is removed at the end.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const measureSize = 1 << 30

func TestMeasureGiB(t *testing.T) {
	if os.Getenv("FILEHUB_MEASURE") == "" {
		t.Skip("set FILEHUB_MEASURE=1 to measure 1 GiB transfers")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("needs curl")
	}
	base := os.Getenv("FILEHUB_MEASURE_DIR")
	if base == "" {
		if base, err = os.MkdirTemp("/tmp", "filehub-measure-"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	root := filepath.Join(base, "root")
	os.MkdirAll(root, 0o755)

	bin := filepath.Join(base, "filehub")
	if out, err := exec.Command("go", "build", "-o", bin, "filehub").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src := filepath.Join(base, "src.bin")
	start := time.Now()
	want := writeSeeded(t, src, measureSize)
	t.Logf("wrote 1 GiB source in %v, sha256 %s", time.Since(start).Round(time.Millisecond), want)
	if err := os.Link(src, filepath.Join(root, "big.bin")); err != nil {
		t.Fatal(err)
	}

	srv := exec.Command(bin, "-addr", "127.0.0.1:0", "-root", root, "-upload", "-max-upload", "2GiB", "-log-level", "warn")
	srv.Stderr = os.Stderr
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimRight(line[strings.Index(line, "http://")+len("http://"):], "/\n")
	url := "http://" + addr
	rss := func(phase string) {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", srv.Process.Pid))
		var cur, peak string
		for l := range strings.SplitSeq(string(st), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				cur = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				peak = strings.TrimSpace(v)
			}
		}
		t.Logf("server RSS %-28s %s (peak so far %s)", phase+":", cur, peak)
	}
	rate := func(what string, n int64, d time.Duration) {
		t.Logf("%-44s %7.0f MB/s  (%.2f s)", what+":", float64(n)/d.Seconds()/1e6, d.Seconds())
	}
	rss("at start")

	// 1. Streamed get over WebSocket.
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?name=measure", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start = time.Now()
	n, sum, end := wsGet(t, c, "big.bin")
	rate("WebSocket get (gorilla client, hashing)", n, time.Since(start))
	if n != measureSize || sum != want || end != want {
		t.Errorf("WebSocket get: %d bytes, sha256 %s, file-end %s", n, sum, end)
	}
	rss("after the WebSocket get")

	// 2. The same file over plain HTTP with curl.
	start = time.Now()
	out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{size_download}", url+"/big.bin").Output()
	if err != nil {
		t.Fatal(err)
	}
	rate("curl GET over HTTP (to /dev/null)", measureSize, time.Since(start))
	if strings.TrimSpace(string(out)) != strconv.Itoa(measureSize) {
		t.Errorf("curl got %s bytes", out)
	}
	start = time.Now()
	resp, err := http.Get(url + "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, _ = io.Copy(h, resp.Body)
	resp.Body.Close()
	rate("Go GET over HTTP (hashing)", n, time.Since(start))
	if hex.EncodeToString(h.Sum(nil)) != want {
		t.Error("HTTP GET: sha256 differs")
	}
	rss("after the HTTP gets")

	// 3. Uploads.
	put := func(what, name string, body func() (io.Reader, int64)) {
		t.Helper()
		r, size := body()
		req, _ := http.NewRequest(http.MethodPut, url+"/"+name, r)
		req.ContentLength = size
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var res struct{ SHA256 string }
		json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		rate(what, size, time.Since(start))
		if resp.StatusCode != 201 || res.SHA256 != want {
			t.Errorf("%s: %d, sha256 %s", what, resp.StatusCode, res.SHA256)
		}
	}
	put("Go PUT upload (from the file)", "up1.bin", func() (io.Reader, int64) {
		f, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f, measureSize
	})
	os.Remove(filepath.Join(root, "up1.bin"))
	start = time.Now()
	out, err = exec.Command(curl, "-sS", "-T", src, url+"/up2.bin").Output()
	rate("curl -T upload", measureSize, time.Since(start))
	if err != nil || !bytes.Contains(out, []byte(want)) {
		t.Errorf("curl -T: %v %s", err, out)
	}
	os.Remove(filepath.Join(root, "up2.bin"))
	rss("after the uploads")

	// 4. An upload cut at half, then resumed.
	const key = "measure-resume-key"
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /up3.bin?resume=%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", key, addr, measureSize)
	f, _ := os.Open(src)
	io.CopyN(conn, f, measureSize/2)
	conn.Close()
	var off int64
	deadline := time.Now().Add(30 * time.Second)
	for off != measureSize/2 && time.Now().Before(deadline) {
		resp, err := http.Head(url + "/up3.bin?resume=" + key)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		off, _ = strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
		time.Sleep(10 * time.Millisecond) // polling the server's state, bounded by deadline
	}
	t.Logf("cut at half: the server holds %d bytes", off)
	f.Seek(off, io.SeekStart)
	req, _ := http.NewRequest(http.MethodPut, url+"/up3.bin?resume="+key, f)
	req.ContentLength = measureSize - off
	req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, measureSize-1, measureSize))
	start = time.Now()
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ SHA256 string }
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	f.Close()
	rate("resumed PUT (the second half)", measureSize-off, time.Since(start))
	if resp.StatusCode != 201 || res.SHA256 != want {
		t.Errorf("resumed upload: %d, sha256 %s, want %s", resp.StatusCode, res.SHA256, want)
	} else {
		t.Logf("resumed upload complete, sha256 matches")
	}
	rss("at the end")
}

// writeSeeded writes size seeded pseudo-random bytes to name.
func writeSeeded(t *testing.T, name string, size int64) string {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.NewChaCha8([32]byte{9}), size); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// wsGet streams path and returns the bytes received, their sha256 and
// file-end's, reading through one buffer.
func wsGet(t *testing.T, c *websocket.Conn, path string) (int64, string, string) {
	t.Helper()
	if err := c.WriteJSON(map[string]any{"kind": "get", "id": "m", "path": path}); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		typ, r, err := c.NextReader()
		if err != nil {
			t.Fatal(err)
		}
		if typ == websocket.BinaryMessage {
			var head [4]byte
			io.ReadFull(r, head[:])
			_ = binary.BigEndian.Uint32(head[:])
			m, _ := io.CopyBuffer(h, r, buf)
			n += m
			continue
		}
		var f map[string]any
		json.NewDecoder(r).Decode(&f)
		switch f["kind"] {
		case "file-end":
			end, _ := f["sha256"].(string)
			return n, hex.EncodeToString(h.Sum(nil)), end
		case "error":
			t.Fatalf("error %v", f)
		}
	}
}
