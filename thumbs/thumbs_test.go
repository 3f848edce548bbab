package thumbs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"filehub/files"
	"filehub/thumbs"
)

// env is a served folder, its Maker and a real listener in front of it,
// mounted as the server mounts it.
type env struct {
	dir     string // the served folder
	outside string // beside it, never reachable
	cache   string // the cache folder, outside the served one
	store   *files.Store
	maker   *thumbs.Maker
	metrics *thumbs.Metrics
	srv     *httptest.Server
}

type opts struct {
	files  files.Config
	thumbs thumbs.Config
	cache  string // a cache folder to reuse; "" makes one
	memory bool   // no cache folder: the cache in memory
	setup  func(t testing.TB, e *env)
	hooks  thumbs.Hooks
	// served, when not nil, is told each time the handler returns.
	served chan<- string
}

func newEnv(t testing.TB, o opts) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{dir: filepath.Join(base, "served"), outside: filepath.Join(base, "outside"), cache: o.cache}
	if e.cache == "" {
		e.cache = filepath.Join(base, "cache")
	}
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if o.setup != nil {
		o.setup(t, e)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.files.Logger = log
	s, err := files.Open(e.dir, o.files)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.store = s
	e.start(t, o)
	return e
}

// start makes a Maker on e's store and cache folder and serves it; a
// second call is a restart.
func (e *env) start(t testing.TB, o opts) {
	t.Helper()
	cfg := o.thumbs
	if cfg.Dir == "" && !o.memory {
		cfg.Dir = e.cache
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.metrics = thumbs.NewMetrics(nil)
	cfg.Metrics = e.metrics
	m, err := thumbs.New(e.store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	thumbs.SetHooks(m, o.hooks)
	t.Cleanup(func() { m.Close() })
	e.maker = m
	mux := http.NewServeMux()
	var h http.Handler = m
	if o.served != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() { o.served <- r.URL.RawQuery }()
			m.ServeHTTP(w, r)
		})
	}
	mux.Handle("GET /_/thumb/{path...}", h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close) // before m.Close: cleanups run last-in first-out
}

// write writes a file into the served folder, making its folders.
func (e *env) write(t testing.TB, name string, b []byte) {
	t.Helper()
	writeFile(t, filepath.Join(e.dir, filepath.FromSlash(name)), b)
}

func writeFile(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// get asks for target (a path with its query) and reads the whole answer.
func (e *env) get(t *testing.T, target string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	return e.getCtx(t, context.Background(), target, hdr...)
}

func (e *env) getCtx(t *testing.T, ctx context.Context, target string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// thumb asks for target and wants a JPEG thumbnail, which it decodes.
func (e *env) thumb(t *testing.T, target string) (image.Image, *http.Response) {
	t.Helper()
	resp, b := e.get(t, target)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %q", target, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/jpeg" {
		t.Fatalf("GET %s: Content-Type %q", target, ct)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return img, resp
}

// raw writes a request line exactly as given, so that no client library
// cleans or re-encodes the target, and reads the answer.
func (e *env) raw(t *testing.T, target string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// Images, made by the standard encoders.

// pattern is a w×h image whose colour changes across it, with c in the
// top-left quarter, so that a thumbnail shows which image it came from.
func pattern(w, h int, c color.Color) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	q := color.NRGBAModel.Convert(c).(color.NRGBA)
	for y := range h {
		for x := range w {
			p := img.Pix[y*img.Stride+x*4:][:4]
			if x < w/2 && y < h/2 {
				p[0], p[1], p[2], p[3] = q.R, q.G, q.B, q.A
				continue
			}
			p[0], p[1], p[2], p[3] = uint8(x*255/w), uint8(y*255/h), 128, 255
		}
	}
	return img
}

func encJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encPNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// encGIF encodes two frames: red, then blue. The thumbnail is of the first.
func encGIF(t testing.TB, w, h int) []byte {
	t.Helper()
	pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}}
	frame := func(i uint8) *image.Paletted {
		p := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		for j := range p.Pix {
			p.Pix[j] = i
		}
		return p
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame(0), frame(1)}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withOrientation puts an EXIF APP1 segment saying orientation o right
// after a JPEG's SOI: a TIFF header (little-endian), one IFD with one
// entry, Orientation (0x0112), a SHORT.
func withOrientation(jpg []byte, o uint16) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("II")
	binary.Write(&tiff, binary.LittleEndian, uint16(42))
	binary.Write(&tiff, binary.LittleEndian, uint32(8)) // IFD0 right after the header
	binary.Write(&tiff, binary.LittleEndian, uint16(1)) // one entry
	binary.Write(&tiff, binary.LittleEndian, uint16(0x0112))
	binary.Write(&tiff, binary.LittleEndian, uint16(3)) // SHORT
	binary.Write(&tiff, binary.LittleEndian, uint32(1)) // one value
	binary.Write(&tiff, binary.LittleEndian, o)
	binary.Write(&tiff, binary.LittleEndian, uint16(0)) // padding to 4 bytes
	binary.Write(&tiff, binary.LittleEndian, uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	var out bytes.Buffer
	out.Write(jpg[:2]) // SOI
	out.Write([]byte{0xFF, 0xE1})
	binary.Write(&out, binary.BigEndian, uint16(len(payload)+2))
	out.Write(payload)
	out.Write(jpg[2:])
	return out.Bytes()
}

// pngBomb is a PNG whose header claims w×h pixels, with a few bytes of
// data: what a decoder would allocate for is all in the header.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, c.Sum32())
	}
	var ihdr bytes.Buffer
	binary.Write(&ihdr, binary.BigEndian, w)
	binary.Write(&ihdr, binary.BigEndian, h)
	ihdr.Write([]byte{8, 6, 0, 0, 0}) // 8-bit RGBA: 4 bytes a pixel
	chunk("IHDR", ihdr.Bytes())
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

func size(img image.Image) string { return fmt.Sprintf("%d×%d", img.Bounds().Dx(), img.Bounds().Dy()) }

// near tells whether two colours are within tol of each other in every
// channel (JPEG is lossy).
func near(a, b color.Color, tol int) bool {
	ar, ag, ab, _ := a.RGBA()
	br, bg, bb, _ := b.RGBA()
	d := func(x, y uint32) bool { return abs(int(x>>8)-int(y>>8)) <= tol }
	return d(ar, br) && d(ag, bg) && d(ab, bb)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestFormats(t *testing.T) {
	t.Parallel()
	red := color.NRGBA{255, 0, 0, 255}
	webp, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp") // 150×100
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, opts{setup: func(t testing.TB, e *env) {
		e.write(t, "photo.jpg", encJPEG(t, pattern(400, 200, red)))
		e.write(t, "tall.png", encPNG(t, pattern(300, 600, red)))
		e.write(t, "anim.gif", encGIF(t, 512, 128))
		e.write(t, "pic.webp", webp)
		e.write(t, "small.png", encPNG(t, pattern(50, 40, red)))
		e.write(t, "misnamed.txt", encPNG(t, pattern(20, 10, red))) // by its bytes, not its name
		e.write(t, "sp ace/Ünï.jpg", encJPEG(t, pattern(64, 64, red)))
	}})
	for _, tc := range []struct {
		target, want string
		topLeft      color.Color // nil: not checked
	}{
		{"/_/thumb/photo.jpg", "256×128", red},
		{"/_/thumb/photo.jpg?s=128", "128×64", red},
		{"/_/thumb/photo.jpg?s=512", "400×200", red}, // never enlarged
		{"/_/thumb/photo.jpg?s=256&v=12345", "256×128", red},
		{"/_/thumb/tall.png", "128×256", red},
		{"/_/thumb/anim.gif?s=128", "128×32", color.RGBA{255, 0, 0, 255}}, // the first frame
		{"/_/thumb/pic.webp?s=128", "128×85", nil},
		{"/_/thumb/small.png", "50×40", red},
		{"/_/thumb/misnamed.txt", "20×10", red},
		{"/_/thumb/sp%20ace/%C3%9Cn%C3%AF.jpg", "64×64", red},
	} {
		img, resp := e.thumb(t, tc.target)
		if got := size(img); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.target, got, tc.want)
		}
		if tc.topLeft != nil && !near(img.At(2, 2), tc.topLeft, 40) {
			t.Errorf("%s: top-left %v, want about %v", tc.target, img.At(2, 2), tc.topLeft)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", tc.target, got)
		}
	}
}

// TestEXIFOrientation: a landscape JPEG whose EXIF says "rotate 90° CW"
// (6) is a portrait photo, and so is its thumbnail.
func TestEXIFOrientation(t *testing.T) {
	t.Parallel()
	red := color.NRGBA{255, 0, 0, 255}
	plain := encJPEG(t, pattern(400, 200, red))
	e := newEnv(t, opts{setup: func(t testing.TB, e *env) {
		e.write(t, "plain.jpg", plain)
		e.write(t, "rotated.jpg", withOrientation(plain, 6))
		e.write(t, "upright.jpg", withOrientation(plain, 1))
	}})
	img, _ := e.thumb(t, "/_/thumb/rotated.jpg")
	if got := size(img); got != "128×256" {
		t.Fatalf("rotated: %s, want 128×256 (portrait)", got)
	}
	// Turned clockwise, the red top-left quarter is now top-right.
	if !near(img.At(120, 5), red, 40) || near(img.At(5, 5), red, 40) {
		t.Errorf("rotated: top-left %v, top-right %v: not turned clockwise", img.At(5, 5), img.At(120, 5))
	}
	for _, name := range []string{"plain.jpg", "upright.jpg"} {
		if img, _ := e.thumb(t, "/_/thumb/"+name); size(img) != "256×128" {
			t.Errorf("%s: %s, want 256×128", name, size(img))
		}
	}
}

// TestTransparent: JPEG has no alpha; transparency becomes white, not the
// black a transparent pixel's colour usually is.
func TestTransparent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{setup: func(t testing.TB, e *env) {
		e.write(t, "clear.png", encPNG(t, image.NewNRGBA(image.Rect(0, 0, 300, 300))))
	}})
	img, _ := e.thumb(t, "/_/thumb/clear.png")
	if c := img.At(100, 100); !near(c, color.White, 8) {
		t.Errorf("transparent pixel: %v, want white", c)
	}
}

// TestHostilePaths: a thumbnail follows the rules of the file it is made
// from. Nothing the Store would not serve has a thumbnail, and nothing
// answers with a picture of it.
func TestHostilePaths(t *testing.T) {
	t.Parallel()
	jpg := encJPEG(t, pattern(40, 40, color.Black))
	e := newEnv(t, opts{setup: func(t testing.TB, e *env) {
		writeFile(t, filepath.Join(e.outside, "secret.jpg"), jpg)
		for _, name := range []string{"ok.jpg", ".hidden.jpg", ".git/x.jpg", "docs/.secret.jpg", ".filehub-tmp-abc",
			"_/x.jpg", "ws", "docs/a.jpg"} {
			e.write(t, name, jpg)
		}
		for link, target := range map[string]string{
			"abs-link.jpg":   filepath.Join(e.outside, "secret.jpg"),
			"rel-link.jpg":   "../outside/secret.jpg",
			"link-dir":       "../outside",
			"to-hidden.jpg":  ".hidden.jpg",
			"to-git":         ".git",
			"loop-a.jpg":     "loop-b.jpg",
			"loop-b.jpg":     "loop-a.jpg",
			"dangling.jpg":   "nothing.jpg",
			"link-in.jpg":    "ok.jpg",
			"docs/up.jpg":    "../../outside/secret.jpg",
			"docs-link":      "docs",
			"docs/abs-in.jg": filepath.Join(e.dir, "ok.jpg"),
		} {
			if err := os.Symlink(target, filepath.Join(e.dir, filepath.FromSlash(link))); err != nil {
				t.Fatal(err)
			}
		}
		if err := syscall.Mkfifo(filepath.Join(e.dir, "pipe.jpg"), 0o644); err != nil {
			t.Fatal(err)
		}
	}})
	long := strings.Repeat("a", 5000)
	for _, tc := range []struct {
		target string
		want   int
	}{
		// Lexically bad names: 400, as for the file.
		{"/_/thumb/a%00.jpg", 400},
		{"/_/thumb/..%5coutside%5csecret.jpg", 400},
		{"/_/thumb/docs%2f..%2f..%2foutside%2fsecret.jpg", 400},
		{"/_/thumb/%2e%2e%2foutside%2fsecret.jpg", 400},
		{"/_/thumb/%ff.jpg", 400},
		{"/_/thumb/invoice%e2%80%aegpj.exe", 400},
		{"/_/thumb/" + long, 400},
		// The wildcard's leading slash is dropped: a name in the folder.
		{"/_/thumb/%2fetc/passwd", 404},
		// "..": the mux cleans it and redirects out of /_/thumb/, to a
		// name the files handler judges (and refuses) on its own.
		{"/_/thumb/../../outside/secret.jpg", 307},
		{"/_/thumb/docs/../../../outside/secret.jpg", 307},
		{"/_/thumb/%2e%2e/%2e%2e/outside/secret.jpg", 400}, // not cleaned by the mux: refused here
		// Hidden, reserved, outside, not a file: 404.
		{"/_/thumb/.hidden.jpg", 404},
		{"/_/thumb/.git/x.jpg", 404},
		{"/_/thumb/docs/.secret.jpg", 404},
		{"/_/thumb/%2ehidden.jpg", 404},
		{"/_/thumb/.filehub-tmp-abc", 404},
		{"/_/thumb/_/x.jpg", 404},
		{"/_/thumb/_/thumb/ok.jpg", 404},
		{"/_/thumb/ws", 404},
		{"/_/thumb/abs-link.jpg", 404},
		{"/_/thumb/rel-link.jpg", 404},
		{"/_/thumb/link-dir/secret.jpg", 404},
		{"/_/thumb/docs/up.jpg", 404},
		{"/_/thumb/to-hidden.jpg", 404},
		{"/_/thumb/to-git/x.jpg", 404},
		{"/_/thumb/loop-a.jpg", 404},
		{"/_/thumb/dangling.jpg", 404},
		{"/_/thumb/docs/abs-in.jg", 404},
		{"/_/thumb/pipe.jpg", 404}, // and at once: opening never waits for a writer
		{"/_/thumb/docs", 404},
		{"/_/thumb/docs/", 404},
		{"/_/thumb/", 404},
		{"/_/thumb/nothing.jpg", 404},
		{"/_/thumb/ok.jpg/x", 404},
		{"/_/thumb/secret.jpg", 404},
		// Links inside that stay inside: served like the file.
		{"/_/thumb/link-in.jpg", 200},
		{"/_/thumb/docs-link/a.jpg", 200},
		{"/_/thumb/ok.jpg", 200},
	} {
		resp, body := e.raw(t, tc.target)
		if resp.StatusCode != tc.want {
			t.Errorf("%.60s: %d, want %d (%q)", tc.target, resp.StatusCode, tc.want, body)
		}
		if resp.StatusCode == http.StatusTemporaryRedirect {
			if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "/_/thumb/") {
				t.Errorf("%s: redirected to %s, still a thumbnail", tc.target, loc)
			}
		}
		if resp.StatusCode != http.StatusOK && strings.Contains(resp.Header.Get("Content-Type"), "image") {
			t.Errorf("%s: %d with %s", tc.target, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if strings.Contains(body, e.dir) || strings.Contains(body, e.outside) {
			t.Errorf("%s: the answer names a folder: %q", tc.target, body)
		}
	}
	if got := testutil.ToFloat64(e.metrics.Generated); got != 3 {
		t.Errorf("generated %v thumbnails, want 3 (ok.jpg and its two links, each by its own name)", got)
	}
}

// TestShowHidden: with -show-hidden a dotfile is served, and so is its
// thumbnail; temp files stay hidden.
func TestShowHidden(t *testing.T) {
	t.Parallel()
	jpg := encJPEG(t, pattern(40, 40, color.Black))
	e := newEnv(t, opts{files: files.Config{ShowHidden: true}, setup: func(t testing.TB, e *env) {
		e.write(t, ".hidden.jpg", jpg)
		e.write(t, ".filehub-tmp-x.jpg", jpg)
	}})
	if resp, _ := e.get(t, "/_/thumb/.hidden.jpg"); resp.StatusCode != http.StatusOK {
		t.Errorf(".hidden.jpg: %d, want 200", resp.StatusCode)
	}
	if resp, _ := e.get(t, "/_/thumb/.filehub-tmp-x.jpg"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("temp file: %d, want 404", resp.StatusCode)
	}
}

// TestRefused: files that are served but have no thumbnail answer 415,
// each counted by its reason, and none of them is decoded.
func TestRefused(t *testing.T) {
	t.Parallel()
	jpg := encJPEG(t, pattern(600, 400, color.Black))
	var decodes atomic.Int32
	e := newEnv(t, opts{
		thumbs: thumbs.Config{MaxFileBytes: 1 << 20},
		hooks:  thumbs.Hooks{Decoding: func(string) { decodes.Add(1) }},
		setup: func(t testing.TB, e *env) {
			e.write(t, "bomb.png", pngBomb(100000, 100000))
			e.write(t, "wide.png", pngBomb(1<<31-1, 1))
			e.write(t, "big.jpg", append(bytes.Clone(jpg), make([]byte, 1<<20)...)) // over MaxFileBytes
			e.write(t, "notes.txt", []byte("just text\n"))
			e.write(t, "empty.jpg", nil)
			e.write(t, "cut.jpg", jpg[:len(jpg)/2])
			e.write(t, "bitmap.bmp", bmp(4, 4))
		},
	})
	for _, tc := range []struct {
		name, reason string
	}{
		{"bomb.png", "pixels"},
		{"wide.png", "pixels"},
		{"big.jpg", "file_size"},
		{"notes.txt", "format"},
		{"empty.jpg", "format"},
		{"bitmap.bmp", "format"},
		{"cut.jpg", "decode"},
		{"cut.jpg", "decode"}, // the second time from memory: not counted, not decoded
	} {
		resp, body := e.get(t, "/_/thumb/"+tc.name)
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("%s: %d %q, want 415", tc.name, resp.StatusCode, body)
		}
		if resp.Header.Get("ETag") != "" || strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
			t.Errorf("%s: refused with ETag %q, Content-Type %q", tc.name, resp.Header.Get("ETag"), resp.Header.Get("Content-Type"))
		}
	}
	for reason, want := range map[string]float64{"pixels": 2, "file_size": 1, "format": 3, "decode": 1} {
		if got := testutil.ToFloat64(e.metrics.Refused.WithLabelValues(reason)); got != want {
			t.Errorf("refused %s: %v, want %v", reason, got, want)
		}
	}
	if n := decodes.Load(); n != 1 {
		t.Errorf("%d decodes, want 1 (cut.jpg, once; everything else refused by its size or header)", n)
	}
	if got := testutil.ToFloat64(e.metrics.Generated); got != 0 {
		t.Errorf("generated %v", got)
	}
	if _, err := os.Stat(e.cache); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cache folder was made with nothing to keep: %v", err)
	}
}

// bmp is a w×h 24-bit BMP: a format the standard decoders registered by
// imaging know, and thumbs refuses.
func bmp(w, h int) []byte {
	row := (w*3 + 3) &^ 3
	var b bytes.Buffer
	b.WriteString("BM")
	binary.Write(&b, binary.LittleEndian, uint32(54+row*h))
	binary.Write(&b, binary.LittleEndian, uint32(0))
	binary.Write(&b, binary.LittleEndian, uint32(54))
	binary.Write(&b, binary.LittleEndian, uint32(40))
	binary.Write(&b, binary.LittleEndian, int32(w))
	binary.Write(&b, binary.LittleEndian, int32(h))
	binary.Write(&b, binary.LittleEndian, uint16(1))
	binary.Write(&b, binary.LittleEndian, uint16(24))
	b.Write(make([]byte, 24)) // no compression, sizes and colours left to defaults
	b.Write(make([]byte, row*h))
	return b.Bytes()
}

func TestBadSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{setup: func(t testing.TB, e *env) { e.write(t, "a.jpg", encJPEG(t, pattern(40, 40, color.Black))) }})
	for _, q := range []string{"s=100", "s=abc", "s=-1", "s=0", "s=1e9", "s=256.0", "s=%20256"} {
		if resp, _ := e.get(t, "/_/thumb/a.jpg?"+q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("?%s: %d, want 400", q, resp.StatusCode)
		}
	}
	for _, s := range thumbs.Sizes {
		if resp, _ := e.get(t, fmt.Sprintf("/_/thumb/a.jpg?s=%d", s)); resp.StatusCode != http.StatusOK {
			t.Errorf("?s=%d: %d, want 200", s, resp.StatusCode)
		}
	}
}

// TestConditional: the ETag names the thumbnail; If-None-Match with it is
// answered 304 without making anything.
func TestConditional(t *testing.T) {
	t.Parallel()
	var decodes atomic.Int32
	e := newEnv(t, opts{
		hooks: thumbs.Hooks{Decoding: func(string) { decodes.Add(1) }},
		setup: func(t testing.TB, e *env) { e.write(t, "a.jpg", encJPEG(t, pattern(400, 300, color.Black))) },
	})
	_, resp := e.thumb(t, "/_/thumb/a.jpg")
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag %q", etag)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	_, other := e.thumb(t, "/_/thumb/a.jpg?s=128")
	if other.Header.Get("ETag") == etag {
		t.Errorf("sizes 256 and 128 share ETag %s", etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"x", ` + etag, "*"} {
		resp, b := e.get(t, "/_/thumb/a.jpg", "If-None-Match", inm)
		if resp.StatusCode != http.StatusNotModified || len(b) != 0 {
			t.Errorf("If-None-Match %s: %d with %d bytes, want 304", inm, resp.StatusCode, len(b))
		}
		if resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") == "" {
			t.Errorf("304: ETag %q, Cache-Control %q", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
		}
	}
	if resp, _ := e.get(t, "/_/thumb/a.jpg", "If-None-Match", `"other"`); resp.StatusCode != http.StatusOK {
		t.Errorf("another ETag: %d, want 200", resp.StatusCode)
	}
	// A 304 for a thumbnail never made: nothing is decoded for it.
	_, r512 := e.thumb(t, "/_/thumb/a.jpg?s=512")
	e2 := r512.Header.Get("ETag")
	before := decodes.Load()
	if resp, _ := e.get(t, "/_/thumb/a.jpg?s=512", "If-None-Match", e2); resp.StatusCode != http.StatusNotModified {
		t.Errorf("s=512: %d, want 304", resp.StatusCode)
	}
	if decodes.Load() != before {
		t.Error("a 304 decoded the image")
	}
	req, _ := http.NewRequest(http.MethodHead, e.srv.URL+"/_/thumb/a.jpg", nil)
	head, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != http.StatusOK || head.Header.Get("ETag") != etag || head.ContentLength <= 0 {
		t.Errorf("HEAD: %d, ETag %q, length %d", head.StatusCode, head.Header.Get("ETag"), head.ContentLength)
	}
}

func TestEtagMatch(t *testing.T) {
	t.Parallel()
	const tag = `"t1-256-abc"`
	for header, want := range map[string]bool{
		tag: true, "W/" + tag: true, `"a", ` + tag: true, `"a",` + tag + `,"b"`: true, " *": true,
		"": false, `"a"`: false, `"t1-256-ab"`: false, tag[1:]: false, `W/`: false, `"unterminated`: false, `x, ` + tag: false,
	} {
		if got := thumbs.EtagMatch(header, tag); got != want {
			t.Errorf("If-None-Match %q: %v, want %v", header, got, want)
		}
	}
}

// TestCacheRestart: what was made before a restart is served from the
// cache folder after it, without decoding.
func TestCacheRestart(t *testing.T) {
	t.Parallel()
	o := opts{setup: func(t testing.TB, e *env) { e.write(t, "a.jpg", encJPEG(t, pattern(400, 300, color.Black))) }}
	e := newEnv(t, o)
	_, first := e.thumb(t, "/_/thumb/a.jpg")
	if got := testutil.ToFloat64(e.metrics.Generated); got != 1 {
		t.Fatalf("generated %v, want 1", got)
	}
	e.srv.Close()
	e.maker.Close()
	e.start(t, o)
	_, again := e.thumb(t, "/_/thumb/a.jpg")
	if got := testutil.ToFloat64(e.metrics.Generated); got != 0 {
		t.Errorf("after the restart: generated %v, want 0", got)
	}
	if got := testutil.ToFloat64(e.metrics.CacheHits); got != 1 {
		t.Errorf("after the restart: %v cache hits, want 1", got)
	}
	if again.Header.Get("ETag") != first.Header.Get("ETag") {
		t.Errorf("ETag %s, then %s", first.Header.Get("ETag"), again.Header.Get("ETag"))
	}
	// Nothing of the cache is in the served folder.
	ents, err := os.ReadDir(e.dir)
	if err != nil || len(ents) != 1 {
		t.Errorf("served folder holds %v (%v)", ents, err)
	}
}

// TestCacheDamaged: a thumbnail cut short on disk (a crash before the
// data reached it) is made again, not served; a stale temp file is swept
// at start, a fresh one and foreign files left alone.
func TestCacheDamaged(t *testing.T) {
	t.Parallel()
	o := opts{setup: func(t testing.TB, e *env) { e.write(t, "a.jpg", encJPEG(t, pattern(400, 300, color.Black))) }}
	e := newEnv(t, o)
	e.thumb(t, "/_/thumb/a.jpg")
	cached := onlyThumb(t, e.cache)
	b, err := os.ReadFile(cached)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	stale, fresh, foreign := filepath.Join(e.cache, "tmp-0123"), filepath.Join(e.cache, "tmp-4567"), filepath.Join(e.cache, "notes.txt")
	for _, f := range []string{stale, fresh, foreign} {
		writeFile(t, f, []byte("x"))
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	e.srv.Close()
	e.maker.Close()
	e.start(t, o)
	e.thumb(t, "/_/thumb/a.jpg")
	if got := testutil.ToFloat64(e.metrics.Generated); got != 1 {
		t.Errorf("generated %v, want 1: the damaged thumbnail made again", got)
	}
	if b2, err := os.ReadFile(cached); err != nil || !bytes.Equal(b, b2) {
		t.Errorf("cache file not restored (%d bytes, %v)", len(b2), err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file: %v", err)
	}
	for _, f := range []string{fresh, foreign} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}

// TestMemoryCache: without a cache folder, thumbnails are kept in memory.
func TestMemoryCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{memory: true, setup: func(t testing.TB, e *env) { e.write(t, "a.png", encPNG(t, pattern(300, 200, color.Black))) }})
	if got := e.maker.Config().MaxCacheBytes; got != 32<<20 {
		t.Errorf("MaxCacheBytes %d, want 32 MiB in memory", got)
	}
	_, b1 := e.get(t, "/_/thumb/a.png")
	_, b2 := e.get(t, "/_/thumb/a.png")
	if !bytes.Equal(b1, b2) || testutil.ToFloat64(e.metrics.Generated) != 1 || testutil.ToFloat64(e.metrics.CacheHits) != 1 {
		t.Errorf("generated %v, hits %v", testutil.ToFloat64(e.metrics.Generated), testutil.ToFloat64(e.metrics.CacheHits))
	}
	if _, err := os.Stat(e.cache); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a cache folder was made: %v", err)
	}
}

// onlyThumb returns the one thumbnail in a cache folder.
func onlyThumb(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(m) != 1 {
		t.Fatalf("cache holds %v (%v), want one thumbnail", m, err)
	}
	return m[0]
}

// TestEviction: the cache stays within its bound, and what goes first is
// what was used least recently.
func TestEviction(t *testing.T) {
	t.Parallel()
	names := []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"}
	setup := func(t testing.TB, e *env) {
		for i, n := range names {
			e.write(t, n, encJPEG(t, pattern(200, 200, color.NRGBA{uint8(i * 50), 0, 0, 255})))
		}
	}
	// Learn a thumbnail's size from a first, unbounded run.
	probe := newEnv(t, opts{setup: setup})
	var one int64
	for _, n := range names {
		_, b := probe.get(t, "/_/thumb/"+n)
		one = max(one, int64(len(b)))
	}
	bound := 3*one + one/2 // room for three
	e := newEnv(t, opts{setup: setup, thumbs: thumbs.Config{MaxCacheBytes: bound}})
	for _, n := range names[:3] { // a, b, c
		e.thumb(t, "/_/thumb/"+n)
	}
	e.thumb(t, "/_/thumb/a.jpg") // a is now more recent than b
	if got := testutil.ToFloat64(e.metrics.CacheHits); got != 1 {
		t.Fatalf("%v hits, want 1", got)
	}
	e.thumb(t, "/_/thumb/d.jpg") // evicts b, the least recently used
	if got := testutil.ToFloat64(e.metrics.EvictedBytes); got <= 0 {
		t.Errorf("evicted %v bytes", got)
	}
	onDisk := func() int64 {
		var n int64
		m, _ := filepath.Glob(filepath.Join(e.cache, "*.jpg"))
		for _, f := range m {
			fi, err := os.Stat(f)
			if err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	if got := onDisk(); got > bound || got != thumbs.CacheBytes(e.maker) {
		t.Errorf("%d bytes on disk, index %d, bound %d", got, thumbs.CacheBytes(e.maker), bound)
	}
	gen := testutil.ToFloat64(e.metrics.Generated)
	e.thumb(t, "/_/thumb/a.jpg") // kept
	e.thumb(t, "/_/thumb/c.jpg") // kept
	if got := testutil.ToFloat64(e.metrics.Generated); got != gen {
		t.Errorf("a or c was evicted: generated %v, want %v", got, gen)
	}
	e.thumb(t, "/_/thumb/b.jpg") // evicted: made again
	if got := testutil.ToFloat64(e.metrics.Generated); got != gen+1 {
		t.Errorf("b was kept: generated %v, want %v", got, gen+1)
	}
	for _, n := range names { // a, b, c hit; d, e evict a, b
		e.thumb(t, "/_/thumb/"+n)
	}
	if got := onDisk(); got > bound {
		t.Errorf("%d bytes on disk, bound %d", got, bound)
	}
	if got := testutil.ToFloat64(e.metrics.CacheBytes); got != float64(thumbs.CacheBytes(e.maker)) {
		t.Errorf("cache_bytes %v, index %d", got, thumbs.CacheBytes(e.maker))
	}

	// The order survives a restart, read back from the files' times (a
	// hit sets its file's time, at most once a minute): make c the oldest
	// on disk, then d, then e. A new thumbnail after the restart evicts c.
	files := map[string]string{} // name → its cache file
	for _, n := range []string{"c.jpg", "d.jpg", "e.jpg"} {
		_, b := e.get(t, "/_/thumb/"+n)
		files[n] = cacheFileOf(t, e.cache, b)
	}
	for i, n := range []string{"c.jpg", "d.jpg", "e.jpg"} {
		at := time.Now().Add(time.Duration(i-3) * time.Hour)
		if err := os.Chtimes(files[n], at, at); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.Close()
	e.maker.Close()
	e.start(t, opts{thumbs: thumbs.Config{MaxCacheBytes: bound}})
	e.thumb(t, "/_/thumb/a.jpg")
	for n, f := range files {
		_, err := os.Stat(f)
		if gone := errors.Is(err, os.ErrNotExist); gone != (n == "c.jpg") {
			t.Errorf("after the restart, %s: %v (only c.jpg should be gone)", n, err)
		}
	}
}

// cacheFileOf returns the file of a cache folder that holds b.
func cacheFileOf(t *testing.T, dir string, b []byte) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	for _, f := range m {
		if c, err := os.ReadFile(f); err == nil && bytes.Equal(c, b) {
			return f
		}
	}
	t.Fatalf("no file of %s holds the %d bytes", dir, len(b))
	return ""
}

// TestInvalidation: a file changed under the same name gets a new
// thumbnail and a new ETag.
func TestInvalidation(t *testing.T) {
	t.Parallel()
	red, blue := color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 255}
	e := newEnv(t, opts{setup: func(t testing.TB, e *env) { e.write(t, "a.jpg", encJPEG(t, pattern(400, 400, red))) }})
	img, first := e.thumb(t, "/_/thumb/a.jpg")
	if !near(img.At(5, 5), red, 40) {
		t.Fatalf("first: %v", img.At(5, 5))
	}
	// An upload replaces the file by a rename: new content, new time.
	e.write(t, "a.jpg", encJPEG(t, pattern(400, 200, blue)))
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(filepath.Join(e.dir, "a.jpg"), later, later); err != nil {
		t.Fatal(err)
	}
	resp, _ := e.get(t, "/_/thumb/a.jpg", "If-None-Match", first.Header.Get("ETag"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the old ETag after a change: %d, want 200", resp.StatusCode)
	}
	img, second := e.thumb(t, "/_/thumb/a.jpg")
	if !near(img.At(5, 5), blue, 40) || size(img) != "256×128" {
		t.Errorf("after the change: %s, top-left %v: the old thumbnail", size(img), img.At(5, 5))
	}
	if first.Header.Get("ETag") == second.Header.Get("ETag") {
		t.Error("same ETag after the change")
	}
	if got := testutil.ToFloat64(e.metrics.Generated); got != 2 {
		t.Errorf("generated %v, want 2", got)
	}
}

// TestConcurrent: N identical requests made together decode once, and all
// get the same thumbnail.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	const n = 8
	var (
		decodes atomic.Int32
		waiting = make(chan struct{}, n)
		release = make(chan struct{})
	)
	e := newEnv(t, opts{
		hooks: thumbs.Hooks{
			Waiting: func(string) { waiting <- struct{}{} },
			Decoding: func(string) {
				decodes.Add(1)
				<-release // until every request is waiting on this flight
			},
		},
		setup: func(t testing.TB, e *env) { e.write(t, "a.jpg", encJPEG(t, pattern(600, 400, color.Black))) },
	})
	var wg sync.WaitGroup
	bodies := make([][]byte, n)
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			resp, b := e.get(t, "/_/thumb/a.jpg")
			codes[i], bodies[i] = resp.StatusCode, b
		})
	}
	for range n {
		<-waiting
	}
	close(release)
	wg.Wait()
	for i := range n {
		if codes[i] != http.StatusOK || !bytes.Equal(bodies[i], bodies[0]) {
			t.Errorf("request %d: %d, %d bytes (first: %d)", i, codes[i], len(bodies[i]), len(bodies[0]))
		}
	}
	if got := decodes.Load(); got != 1 {
		t.Errorf("%d decodes, want 1", got)
	}
	if got := testutil.ToFloat64(e.metrics.Generated); got != 1 {
		t.Errorf("generated %v, want 1", got)
	}
}

// TestSlotWait: with every slot taken, a request waits for one only as
// long as it lives, and the flight it started stops waiting too; when the
// request that started a flight leaves, one that shares it starts another
// and gets its thumbnail.
func TestSlotWait(t *testing.T) {
	t.Parallel()
	var (
		decoding = make(chan struct{}, 16)
		release  = make(chan struct{}) // one token lets one decode go on
		waiting  = make(chan struct{}, 64)
		slotErrs = make(chan error, 16)
		served   = make(chan string, 16)
	)
	e := newEnv(t, opts{
		thumbs: thumbs.Config{Concurrency: 1},
		served: served,
		hooks: thumbs.Hooks{
			Waiting:  func(string) { waiting <- struct{}{} },
			Decoding: func(string) { decoding <- struct{}{}; <-release },
			SlotWait: func(_ string, err error) {
				if err != nil {
					slotErrs <- err
				}
			},
		},
		setup: func(t testing.TB, e *env) {
			for _, n := range []string{"a.jpg", "b.jpg", "h.jpg", "c.jpg"} {
				e.write(t, n, encJPEG(t, pattern(300, 300, color.Black)))
			}
		},
	})
	// get sends a request in the background; its status arrives on the
	// channel, 0 when the client gave up.
	get := func(ctx context.Context, target string) <-chan int {
		done := make(chan int, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+target, nil)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				done <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		return done
	}
	bg := context.Background()

	// a.jpg takes the only slot and holds it; b.jpg waits for it.
	a := get(bg, "/_/thumb/a.jpg?who=a")
	<-decoding
	ctx, cancel := context.WithCancel(bg)
	b := get(ctx, "/_/thumb/b.jpg?who=b")
	<-waiting // a's and b's requests wait on their flights
	<-waiting
	cancel()
	if code := <-b; code != 0 {
		t.Fatalf("b: %d, want the client to give up", code)
	}
	if q := <-served; q != "who=b" { // b's handler returned while a holds the slot
		t.Fatalf("served %q first, want b", q)
	}
	if err := <-slotErrs; !errors.Is(err, context.Canceled) { // and b's flight stopped waiting
		t.Fatalf("b's flight: %v", err)
	}
	release <- struct{}{}
	if code := <-a; code != http.StatusOK {
		t.Fatalf("a: %d", code)
	}
	<-served

	// h.jpg holds the slot; c1 starts c.jpg's flight, c2 shares it, c1
	// leaves: c2 still gets its thumbnail.
	h := get(bg, "/_/thumb/h.jpg?who=h")
	<-decoding
	<-waiting
	ctx1, cancel1 := context.WithCancel(bg)
	c1 := get(ctx1, "/_/thumb/c.jpg?who=c1")
	<-waiting
	c2 := get(bg, "/_/thumb/c.jpg?who=c2")
	<-waiting
	cancel1()
	if code := <-c1; code != 0 {
		t.Fatalf("c1: %d, want the client to give up", code)
	}
	if err := <-slotErrs; !errors.Is(err, context.Canceled) {
		t.Fatalf("c1's flight: %v", err)
	}
	<-waiting             // c2 waits on a flight of its own
	release <- struct{}{} // h
	<-decoding            // c, made for c2
	release <- struct{}{}
	if code := <-h; code != http.StatusOK {
		t.Errorf("h: %d", code)
	}
	if code := <-c2; code != http.StatusOK {
		t.Errorf("c2: %d, want 200", code)
	}
	if got := testutil.ToFloat64(e.metrics.Generated); got != 3 {
		t.Errorf("generated %v, want 3 (a, h, c)", got)
	}
}
