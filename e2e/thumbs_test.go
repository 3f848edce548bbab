package e2e

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filehub/internal/harness"
	"filehub/internal/testutil"
	"filehub/server"
)

// photoJPEG is a w×h JPEG.
func photoJPEG(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// getThumb GETs u with hdr and reads the whole answer.
func getThumb(t *testing.T, u string, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
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

// thumbMetric returns the line of /_/metrics that starts with name, or "".
func thumbMetric(t *testing.T, ts *harness.Server, hdr http.Header, name string) string {
	t.Helper()
	_, b := getThumb(t, ts.URL+"/_/metrics", hdr)
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return line
		}
	}
	return ""
}

// TestThumbnails: GET /_/thumb/{path} on the whole server: behind the
// token like every door, the file's rules, the cache in -thumb-cache
// across a restart, counted in /_/metrics.
func TestThumbnails(t *testing.T) {
	t.Parallel()
	const token = "thumb-token-51c2"
	photo := photoJPEG(t, 640, 480)
	dir := testutil.Tree(t, map[string]string{
		"photos/a b.jpg":   photo,
		".hidden.jpg":      photo,
		"notes.txt":        "not a picture\n",
		"photos/.keep.jpg": photo,
	})
	cache := t.TempDir()
	args := []string{"-token", token, "-thumb-cache", cache, "-thumb-cache-size", "1MiB"}
	ts := harness.Start(t, dir, args...)
	auth := bearer(token)

	for _, h := range []http.Header{nil, bearer("wrong")} {
		if resp, _ := getThumb(t, ts.URL+"/_/thumb/photos/a%20b.jpg", h); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("without the token: %d", resp.StatusCode)
		}
	}
	resp, b := getThumb(t, ts.URL+"/_/thumb/photos/a%20b.jpg", auth)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("with the token: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() != 256 || img.Bounds().Dy() != 192 {
		t.Fatalf("thumbnail: %v, %v", img.Bounds(), err)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private, max-age=") {
		t.Errorf("Cache-Control %q", cc)
	}
	etag := resp.Header.Get("ETag")
	if r2, _ := getThumb(t, ts.URL+"/_/thumb/photos/a%20b.jpg", http.Header{"Authorization": auth["Authorization"], "If-None-Match": {etag}}); r2.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", r2.StatusCode)
	}
	for target, want := range map[string]int{
		"/_/thumb/.hidden.jpg":            404,
		"/_/thumb/photos/.keep.jpg":       404,
		"/_/thumb/photos/":                404,
		"/_/thumb/missing.jpg":            404,
		"/_/thumb/notes.txt":              415,
		"/_/thumb/photos/a%20b.jpg?s=100": 400,
		"/_/thumb/%2e%2e/x.jpg":           400,
	} {
		if resp, b := getThumb(t, ts.URL+target, auth); resp.StatusCode != want {
			t.Errorf("%s: %d %q, want %d", target, resp.StatusCode, b, want)
		}
	}
	kept, _ := filepath.Glob(filepath.Join(cache, "thumbs-*", "*.jpg"))
	if len(kept) != 1 {
		t.Errorf("the cache holds %v, want one thumbnail", kept)
	}
	if m := thumbMetric(t, ts, auth, "filehub_thumbs_generated_total"); m != "filehub_thumbs_generated_total 1" {
		t.Errorf("metrics: %q", m)
	}
	if m := thumbMetric(t, ts, auth, `filehub_thumbs_refused_total{reason="format"}`); !strings.HasSuffix(m, " 1") {
		t.Errorf("metrics: %q", m)
	}

	// After a restart the thumbnail comes from the cache folder.
	ts.Stop()
	again := harness.Start(t, dir, args...)
	if resp, b2 := getThumb(t, again.URL+"/_/thumb/photos/a%20b.jpg", auth); resp.StatusCode != http.StatusOK || !bytes.Equal(b, b2) {
		t.Fatalf("after the restart: %d, %d bytes (%d before)", resp.StatusCode, len(b2), len(b))
	}
	if m := thumbMetric(t, again, auth, "filehub_thumbs_cache_hits_total"); m != "filehub_thumbs_cache_hits_total 1" {
		t.Errorf("after the restart: %q", m)
	}
	if m := thumbMetric(t, again, auth, "filehub_thumbs_generated_total"); m != "filehub_thumbs_generated_total 0" {
		t.Errorf("after the restart: %q", m)
	}
}

// TestThumbCacheFolder: the cache is never inside the served folder. Given
// there, the start is refused; the default there (or none) keeps the
// thumbnails in memory, with a warning; the default elsewhere holds them
// in a folder per served folder.
func TestThumbCacheFolder(t *testing.T) {
	t.Parallel()
	photo := photoJPEG(t, 300, 300)
	t.Run("given inside", func(t *testing.T) {
		t.Parallel()
		dir := testutil.Tree(t, map[string]string{"a.jpg": photo})
		err := server.Run(context.Background(), []string{"-addr", "127.0.0.1:0", "-root", dir, "-thumb-cache", filepath.Join(dir, "cache")},
			func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "inside the served folder") || server.ExitCode(err, io.Discard) != 2 {
			t.Fatalf("-thumb-cache inside the folder: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "cache")); !os.IsNotExist(err) {
			t.Errorf("the cache folder was made: %v", err)
		}
	})
	for _, tc := range []struct {
		name   string
		env    func(dir, home string) map[string]string
		memory bool
	}{
		{"XDG_CACHE_HOME", func(_, home string) map[string]string { return map[string]string{"XDG_CACHE_HOME": home} }, false},
		{"HOME", func(_, home string) map[string]string { return map[string]string{"HOME": home} }, false},
		{"default inside", func(dir, _ string) map[string]string {
			return map[string]string{"XDG_CACHE_HOME": filepath.Join(dir, ".cache")}
		}, true},
		{"no home", func(string, string) map[string]string { return nil }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, home := testutil.Tree(t, map[string]string{"a.jpg": photo}), t.TempDir()
			ts := harness.StartEnv(t, tc.env(dir, home), "-addr", "127.0.0.1:0", "-root", dir, "-log-level", "debug")
			if resp, b := getThumb(t, ts.URL+"/_/thumb/a.jpg", nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %q", resp.StatusCode, b)
			}
			warned := strings.Contains(ts.Logs.Text(), "thumbnails are kept in memory")
			kept, _ := filepath.Glob(filepath.Join(home, "*", "filehub", "thumbs-*", "*.jpg"))
			direct, _ := filepath.Glob(filepath.Join(home, "filehub", "thumbs-*", "*.jpg"))
			kept = append(kept, direct...)
			if tc.memory != warned || tc.memory != (len(kept) == 0) {
				t.Errorf("warned %v, kept on disk %v; want in memory %v", warned, kept, tc.memory)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("the served folder holds %v", ents)
			}
		})
	}
}
