package files_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filehub/files"
	"filehub/internal/testutil"
)

// BenchmarkGET fetches a 1 KiB file over a real loopback connection, with
// http.FileServer on the same folder for comparison: the project keeps its
// GET at 0.9× FileServer's speed or better.
func BenchmarkGET(b *testing.B) {
	dir := b.TempDir()
	body := strings.Repeat("x", 1024)
	testutil.WriteTree(b, dir, map[string]string{"a.txt": body, "docs/sub/deep/notes.txt": body})
	s, err := files.Open(dir, files.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, srv := range []struct {
		name string
		h    http.Handler
	}{
		{"filehub", files.Handler(s, files.Hooks{})},
		{"FileServer", http.FileServer(http.Dir(dir))},
	} {
		ts := httptest.NewServer(srv.h)
		for _, name := range []string{"a.txt", "docs/sub/deep/notes.txt"} {
			b.Run(srv.name+"/"+name, func(b *testing.B) {
				c := ts.Client()
				url := ts.URL + "/" + name
				b.ReportAllocs()
				for b.Loop() {
					resp, err := c.Get(url)
					if err != nil {
						b.Fatal(err)
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || n != 1024 {
						b.Fatalf("GET %s: %d, %d bytes", url, resp.StatusCode, n)
					}
				}
			})
		}
		ts.Close()
	}
}

// BenchmarkOpen is the part of a GET that the Store does: Clean, open,
// fstat and the check of what was opened, then close.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	testutil.WriteTree(b, dir, map[string]string{"a.txt": "x", "docs/sub/deep/notes.txt": "x"})
	if err := os.Symlink("docs/sub/deep/notes.txt", filepath.Join(dir, "link.txt")); err != nil {
		b.Fatal(err)
	}
	s, err := files.Open(dir, files.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"/a.txt", "/docs/sub/deep/notes.txt", "/link.txt"} {
		b.Run(strings.TrimPrefix(name, "/"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f, _, err := s.Open(name)
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
