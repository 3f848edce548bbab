package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// benchSize is the file of BenchmarkOpenBig: the 200 MB.
const benchSize = 200 << 20

// BenchmarkOpenBig opens a 200 MB file from the room page in headless
// Chromium, beside curl fetching it over HTTP from the same server, and
// reports the page's JavaScript memory: heap-MB is how much the JS heap
// (with the ArrayBuffers it holds) grew by the end of the open, peak-MB the
// most it grew on the way (sampled every 50 ms), kept-MB what is left of
// it after a full collection (what the page holds on to). The ways:
//
//	curl       curl -o FILE (the bar: the page takes at most 1.5× this)
//	tap        the primary action: a tap on the file's name; with nothing
//	           to show, a download by the browser itself, over HTTP
//	live       "over the live connection": a WebSocket get, hashed, into a
//	           Blob (the seed's way; before issue 21, what Open did)
//
// FILEHUB_BENCH_BIN runs another build instead of this one (to measure
// the page before a change: `git worktree add /tmp/old REV && go build -o
// /tmp/old/filehub /tmp/old`); its page is driven the same way.
//
//	go test -run '^$' -bench OpenBig -benchtime 3x ./e2e/
func BenchmarkOpenBig(b *testing.B) {
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, benchSize); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	base := benchTarget(b, dir)
	b.Run("curl", func(b *testing.B) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			b.Skip("no curl")
		}
		out := filepath.Join(b.TempDir(), "big.bin")
		for b.Loop() {
			if err := exec.Command(curl, "-sSf", "-o", out, base+"/big.bin").Run(); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(benchSize)
	})
	ctx := benchBrowser(b)
	for _, way := range []string{"tap", "live"} {
		b.Run(way, func(b *testing.B) {
			tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
			defer cancel()
			downloads := b.TempDir()
			done := make(chan string, 16)
			if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/?room=bench&name=bench")); err != nil {
				b.Fatal(err)
			}
			if err := chromedp.ListenBrowser(tab, func(ev any) {
				if e, ok := ev.(*browser.EventDownloadProgress); ok && e.State == browser.DownloadProgressStateCompleted {
					done <- e.GUID
				}
			}); err != nil {
				b.Fatal(err)
			}
			events := true
			if _, err := chromedp.CallBrowser(tab, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &events,
				BrowserContextID: chromedp.FromContext(tab).BrowserContextID,
			}); err != nil {
				b.Fatal(err)
			}
			benchWait(b, tab, `document.querySelector('[data-testid=status]')?.dataset.state === 'open' && document.querySelector('tr[data-path="big.bin"]')`)
			// The old page had the live connection's Open on the row; this
			// one has it in the row's menu, and the name opens.
			click := map[string]string{
				"tap": `(() => { const r = document.querySelector('tr[data-path="big.bin"]');
					(r.querySelector('[data-testid=open]') || r.querySelector('a[data-testid=download]')).click(); })()`,
				"live": `(() => { const r = document.querySelector('tr[data-path="big.bin"]'); delete document.querySelector('[data-testid=viewer]').dataset.state;
					if (!r.querySelector('[data-testid=view]')) r.querySelector('[data-testid=menu]').click(); r.querySelector('[data-testid=view]').click(); })()`,
			}[way]
			var grew, peak, kept float64
			for b.Loop() {
				before := benchHeap(b, tab)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				var top float64
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
						}
						if h, err := chromedp.Call(tab, runtime.GetHeapUsage, cdp.Empty{}); err == nil {
							top = max(top, h.UsedSize+h.BackingStorageSize)
						}
					}
				})
				if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](click)); err != nil {
					b.Fatal(err)
				}
				if way == "tap" {
					select {
					case g := <-done:
						if fi, err := os.Stat(filepath.Join(downloads, g)); err != nil || fi.Size() != benchSize {
							b.Fatalf("the download: %v, %v", fi, err)
						}
						os.Remove(filepath.Join(downloads, g))
					case <-time.After(2 * time.Minute):
						b.Fatal("the download did not complete")
					}
				} else {
					benchWait(b, tab, `['shown', 'error'].includes(document.querySelector('[data-testid=viewer]').dataset.state)`)
				}
				after := eval0(b, tab)
				close(stop)
				wg.Wait()
				grew = max(grew, after-before)
				peak = max(peak, top-before, after-before)
				kept = max(kept, benchHeap(b, tab)-before)
				if way == "live" {
					// What the page keeps of it goes with the viewer.
					if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=viewer-close]').click()`)); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.SetBytes(benchSize)
			b.ReportMetric(grew/(1<<20), "heap-MB")
			b.ReportMetric(peak/(1<<20), "peak-MB")
			b.ReportMetric(kept/(1<<20), "kept-MB")
		})
	}
}

// eval0 is the JS heap now (used plus ArrayBuffers), without a collection first.
func eval0(b *testing.B, ctx context.Context) float64 {
	h, err := chromedp.Call(ctx, runtime.GetHeapUsage, cdp.Empty{})
	if err != nil {
		b.Fatal(err)
	}
	return h.UsedSize + h.BackingStorageSize
}

// benchHeap is the JS heap after a full collection.
func benchHeap(b *testing.B, ctx context.Context) float64 {
	if _, err := chromedp.Call(ctx, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
		b.Fatal(err)
	}
	return eval0(b, ctx)
}

func benchWait(b *testing.B, ctx context.Context, expr string) {
	b.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(2*time.Minute)))
	if err != nil {
		b.Fatalf("waiting for %s: %v", expr, err)
	}
}

// benchTarget serves dir with this build (in process) or with the binary
// FILEHUB_BENCH_BIN, and returns its base URL.
func benchTarget(b *testing.B, dir string) string {
	bin := os.Getenv("FILEHUB_BENCH_BIN")
	if bin == "" {
		return startBenchServer(b, dir)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-addr", addr, "-log-level", "warn", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		if res, err := http.Get(base + "/_/static/app.js"); err == nil {
			res.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s did not start", bin)
		}
		time.Sleep(50 * time.Millisecond) // polling a process we started for its port: it has no other signal
	}
}

// benchBrowser is one headless Chromium for the benchmark.
func benchBrowser(b *testing.B) context.Context {
	path := chromiumPath()
	if path == "" {
		b.Skip("no Chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(b.TempDir()), chromedp.Flag("disable-background-networking", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	b.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.Fatal(fmt.Errorf("starting %s: %w", strings.TrimSpace(path), err))
	}
	return ctx
}
