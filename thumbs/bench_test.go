package thumbs_test

import (
	"image/color"
	"io"
	"net/http"
	"testing"

	"filehub/thumbs"
)

// photo is a 3000×2000 JPEG (6 MP), about what a phone's photo is once
// downscaled, and larger than most screenshots.
func photo(b *testing.B) []byte {
	return encJPEG(b, pattern(3000, 2000, color.NRGBA{200, 30, 30, 255}))
}

// BenchmarkGenerate is one thumbnail made from a 6 MP JPEG: decode,
// resize to 256, encode. go test -bench Generate -run '^$' ./thumbs
func BenchmarkGenerate(b *testing.B) {
	data := photo(b)
	e := newEnv(b, opts{memory: true})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := thumbs.Render(e.maker, data, thumbs.DefaultSize); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHit is a GET of a thumbnail in the disk cache, over a
// loopback connection kept alive. go test -bench CacheHit -run '^$' ./thumbs
func BenchmarkCacheHit(b *testing.B) {
	data := photo(b)
	e := newEnv(b, opts{setup: func(t testing.TB, e *env) { e.write(t, "photo.jpg", data) }})
	c := e.srv.Client()
	get := func() {
		resp, err := c.Get(e.srv.URL + "/_/thumb/photo.jpg")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
	get() // made once
	b.ReportAllocs()
	for b.Loop() {
		get()
	}
}
