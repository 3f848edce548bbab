package thumbs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // GIF's first frame; imaging registers it too, said here for clarity
	"image/jpeg"
	_ "image/png"
	"io"
	"time"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/webp" // WebP decoding
)

// formats are the image formats that get thumbnails, by image.DecodeConfig's
// name. imaging registers BMP and TIFF decoders too: they are refused here
// (an uncompressed BMP is all pixels, and TIFF's decoder is a large surface).
var formats = map[string]bool{"jpeg": true, "png": true, "gif": true, "webp": true}

// maxChanged is how many times a request starts again when the file
// changed under it (its size or modification time differ from those the
// flight was started for) before it gives up with ErrBusy.
const maxChanged = 3

// thumb returns the JPEG bytes of r's thumbnail: from the cache, or made
// now (once for every request that asks for it meanwhile).
func (m *Maker) thumb(ctx context.Context, r ref) ([]byte, error) {
	if b, ok := m.cache.get(r.key); ok {
		m.m.CacheHits.Inc()
		return b, nil
	}
	if detail, ok := m.broken.get(r.key); ok {
		return nil, &refused{reason: reasonDecode, detail: detail}
	}
	if r.info.Size > m.cfg.MaxFileBytes { // before waiting for a slot: a video is refused at once
		m.m.Refused.WithLabelValues(reasonFileSize).Inc()
		return nil, &refused{reasonFileSize, fmt.Sprintf("%d bytes", r.info.Size)}
	}
	for {
		// DoChan, not Do: each request waits only as long as it lives,
		// and a flight goes on when the request that started it leaves
		// (what it makes is kept for the next one).
		ch := m.flight.DoChan(r.key, func() (any, error) { return m.generate(ctx, r) })
		if h := m.hooks.waiting; h != nil {
			h(r.key)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case res := <-ch:
			if res.Err != nil && ctx.Err() == nil &&
				(errors.Is(res.Err, context.Canceled) || errors.Is(res.Err, context.DeadlineExceeded)) {
				// The request that started the flight left while it waited
				// for a slot; this one is still here: start another.
				continue
			}
			if res.Err != nil {
				return nil, res.Err
			}
			return res.Val.([]byte), nil
		}
	}
}

// generate makes r's thumbnail and keeps it. ctx is that of the request
// that started the flight, and bounds only the wait for a slot: once
// decoding starts it runs to the end, since what it makes is kept.
func (m *Maker) generate(ctx context.Context, r ref) ([]byte, error) {
	// A flight that ended just before this one started may have made it.
	if b, ok := m.cache.get(r.key); ok {
		m.m.CacheHits.Inc()
		return b, nil
	}
	err := m.acquire(ctx)
	if h := m.hooks.slotWait; h != nil {
		h(r.key, err)
	}
	if err != nil {
		return nil, err
	}
	defer m.release()
	start := time.Now()
	b, err := m.make(r)
	var ref *refused
	switch {
	case errors.As(err, &ref):
		m.m.Refused.WithLabelValues(ref.reason).Inc()
		if ref.reason == reasonDecode {
			m.broken.add(r.key, ref.detail)
		}
		return nil, err
	case err != nil:
		return nil, err
	}
	m.m.Generated.Inc()
	m.m.GenerateSeconds.Observe(time.Since(start).Seconds())
	if err := m.cache.put(r.key, b); err != nil {
		// Served all the same; made again next time.
		m.log.Warn("keep thumbnail", "key", r.key, "err", err)
	}
	return b, nil
}

// acquire waits for a slot to make a thumbnail in, as long as ctx lives.
func (m *Maker) acquire(ctx context.Context) error {
	select {
	case m.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case m.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("thumbs: wait for a slot: %w", ctx.Err())
	}
}

func (m *Maker) release() { <-m.slots }

// make reads r's file through the Store and makes its thumbnail.
func (m *Maker) make(r ref) ([]byte, error) {
	f, info, err := m.store.Open(r.name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info.Size != r.info.Size || !info.Modified.Equal(r.info.Modified) {
		return nil, fmt.Errorf("thumbs: %q: %w", r.name, ErrBusy)
	}
	if info.Size > m.cfg.MaxFileBytes {
		return nil, &refused{reasonFileSize, fmt.Sprintf("%d bytes", info.Size)}
	}
	// The header first, from the file: a bomb or a file of another kind
	// is refused without reading the rest of it.
	if err := m.checkHeader(bufio.NewReaderSize(f, 4<<10)); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("thumbs: %q: %w", r.name, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, m.cfg.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("thumbs: read %q: %w", r.name, err)
	}
	if int64(len(data)) > m.cfg.MaxFileBytes { // it grew since the fstat
		return nil, &refused{reasonFileSize, fmt.Sprintf("over %d bytes", m.cfg.MaxFileBytes)}
	}
	// Again, from the bytes that will be decoded: the file may have been
	// rewritten in place since the first look.
	if err := m.checkHeader(bytes.NewReader(data)); err != nil {
		return nil, err
	}
	if h := m.hooks.decoding; h != nil {
		h(r.key)
	}
	return m.render(data, r.size)
}

// checkHeader refuses an image of a format without thumbnails or with
// more than MaxPixels, by its header alone.
func (m *Maker) checkHeader(rd io.Reader) error {
	cfg, format, err := image.DecodeConfig(rd)
	switch {
	case errors.Is(err, image.ErrFormat):
		return &refused{reasonFormat, "unknown format"}
	case err != nil:
		return &refused{reasonDecode, err.Error()}
	case !formats[format]:
		return &refused{reasonFormat, format}
	case cfg.Width <= 0 || cfg.Height <= 0:
		return &refused{reasonDecode, fmt.Sprintf("%s of %d×%d", format, cfg.Width, cfg.Height)}
	case int64(cfg.Width)*int64(cfg.Height) > m.cfg.MaxPixels:
		return &refused{reasonPixels, fmt.Sprintf("%s of %d×%d", format, cfg.Width, cfg.Height)}
	}
	return nil
}

// render decodes an image whose header passed checkHeader and encodes
// its thumbnail: at most size pixels on its longest side (never enlarged),
// turned as its EXIF orientation says, transparency over white.
func (m *Maker) render(data []byte, size int) ([]byte, error) {
	img, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		return nil, &refused{reasonDecode, err.Error()}
	}
	small := fit(img, size)
	if !small.Opaque() {
		// JPEG has no alpha: transparent pixels would come out as whatever
		// colour they hide, often black.
		bg := imaging.New(small.Bounds().Dx(), small.Bounds().Dy(), color.White)
		small = imaging.Overlay(bg, small, image.Point{}, 1)
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, small, &jpeg.Options{Quality: m.cfg.Quality}); err != nil {
		return nil, fmt.Errorf("thumbs: encode: %w", err)
	}
	return out.Bytes(), nil
}

// fit shrinks img to at most size on its longest side; the result is a
// new *image.NRGBA even when img is small already. imaging's filters widen
// with the ratio, so that a 6 MP photo shrunk by CatmullRom alone takes
// 140 ms, more than twice its decode: a photo over 4 × size is first
// averaged down (Box) to 2 × size, which keeps the antialiasing, and
// CatmullRom then does the last step sharply (70 ms for the two).
func fit(img image.Image, size int) *image.NRGBA {
	if b := img.Bounds(); max(b.Dx(), b.Dy()) > 4*size {
		img = imaging.Fit(img, 2*size, 2*size, imaging.Box)
	}
	return imaging.Fit(img, size, size, imaging.CatmullRom)
}

// validJPEG is a cheap check that b is a whole JPEG (SOI … EOI): a cache
// file cut short by a crash is made again rather than served.
func validJPEG(b []byte) bool {
	return len(b) >= 4 && b[0] == 0xFF && b[1] == 0xD8 && b[len(b)-2] == 0xFF && b[len(b)-1] == 0xD9
}
