package e2e

import (
	"bytes"
	"context"
	"filehub/internal/harness"
	"filehub/server"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkServeGET is a 1 KiB GET through the whole server, run() with
// every middleware and the feed's hook, beside Go's bare http.FileServer
// on the same folder: the project keeps the first at 0.9× the second's
// speed or better. Both over real loopback connections, one client.
//
//	go test -run '^$' -bench ServeGET -count 5 .
func BenchmarkServeGET(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "1k.bin"), bytes.Repeat([]byte("k"), 1024), 0o644); err != nil {
		b.Fatal(err)
	}
	fh := startBenchServer(b, dir)
	fs := httptest.NewUnstartedServer(http.FileServer(http.Dir(dir)))
	fs.Config.ReadHeaderTimeout = 10 * time.Second
	fs.Start()
	defer fs.Close()
	for _, tc := range []struct{ name, url string }{{"filehub", fh + "/1k.bin"}, {"FileServer", fs.URL + "/1k.bin"}} {
		b.Run(tc.name, func(b *testing.B) {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			b.ReportAllocs()
			for b.Loop() {
				res, err := c.Get(tc.url)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if n != 1024 {
					b.Fatalf("%d bytes", n)
				}
			}
		})
	}
}

// startBenchServer runs run() on a loopback port, as a user would with
// -log-level warn (no access log line per request), and stops it at the
// benchmark's end.
func startBenchServer(b *testing.B, dir string) string {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, []string{"-addr", "127.0.0.1:0", "-log-level", "warn", dir}, func(string) string { return "" }, harness.AddrWriter(addrs), io.Discard)
	}()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addrs:
		return "http://" + a
	case err := <-done:
		b.Fatalf("run: %v", err)
	}
	return ""
}
