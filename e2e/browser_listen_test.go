package e2e

// The client and the page together: a file the page shares is saved by
// filehub listen, checked.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filehub/client"
	"filehub/internal/harness"
	"filehub/internal/testutil"
)

// lineWriter hands each line written to it to a channel.
type lineWriter struct{ ch chan string }

func (l lineWriter) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		select {
		case l.ch <- line:
		default:
		}
	}
	return len(p), nil
}

func (l lineWriter) wait(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(testutil.Timeout)
	for {
		select {
		case line := <-l.ch:
			if strings.Contains(line, want) {
				return line
			}
		case <-timeout:
			t.Fatalf("no line with %q", want)
			return ""
		}
	}
}

func TestBrowserShareToListen(t *testing.T) {
	browserCtx := startBrowser(t)
	dir := browserFixtures(t)
	ts := harness.Start(t, dir, "-upload")
	save := t.TempDir()
	out, errOut := lineWriter{make(chan string, 16)}, lineWriter{make(chan string, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- client.Run(ctx, []string{"listen", "-room", "lab", "-name", "saver", "-save", save, ts.URL}, func(string) string { return "" }, out, errOut)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("listen: %v", err)
		}
	}()
	errOut.wait(t, "joined lab as saver")

	alice := openTab(t, browserCtx, "alice", ts.URL+"/?room=lab&name=alice")
	keepOnFailure(t, alice)
	alice.waitFor(t, "connected", statusOpen)
	alice.waitFor(t, "saver in the room", memberCount(2))
	for _, name := range []string{"notes.md", "big.bin"} {
		alice.waitFor(t, "the listing", `document.querySelector(`+jsString(row(name))+`)`)
		alice.do(t, "share "+name, rowAction(row(name), "share")...)
		want, _ := os.ReadFile(filepath.Join(dir, name))
		sum := sha256.Sum256(want)
		line := out.wait(t, "saved "+name)
		if !strings.Contains(line, hex.EncodeToString(sum[:])) {
			t.Errorf("listen said %q", line)
		}
		if got, _ := os.ReadFile(filepath.Join(save, name)); !bytes.Equal(got, want) {
			t.Errorf("%s saved differs", name)
		}
	}
}
