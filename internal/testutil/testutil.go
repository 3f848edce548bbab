// Package testutil holds the small helpers every package's tests share: a
// tree of files written into a folder, a logger that writes into the test,
// the one read timeout, and a WebSocket client that
// speaks the room's frames. It imports no filehub package, so that any
// package's own tests (hub's included) can use it.
package testutil

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeout bounds every read and wait in the tests, so that a hang fails
// fast instead of at the go test deadline.
const Timeout = 10 * time.Second

// WriteFile writes body to name, making its folders first.
func WriteFile(t testing.TB, name, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteTree writes each file of tree (slash-separated names, relative to
// dir) into dir, making folders as needed.
func WriteTree(t testing.TB, dir string, tree map[string]string) {
	t.Helper()
	for name, body := range tree {
		WriteFile(t, filepath.Join(dir, filepath.FromSlash(name)), body)
	}
}

// Tree writes tree into a new t.TempDir() and returns the folder.
func Tree(t testing.TB, tree map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	WriteTree(t, dir, tree)
	return dir
}

// Log is an io.Writer that passes each line to the test's log until the
// test ends (a late line from a goroutine after it would panic), and keeps
// every line for tests that read what was logged.
type Log struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
	all  bytes.Buffer
}

// NewLog returns a Log writing into t, stopped at t's cleanup.
func NewLog(t testing.TB) *Log {
	l := &Log{t: t}
	t.Cleanup(l.Stop)
	return l
}

// Text returns everything logged so far.
func (l *Log) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// Stop ends the passing on to the test's log; lines are still kept.
func (l *Log) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// Logger is a text logger writing into the test's log, at level and above.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(NewLog(t), &slog.HandlerOptions{Level: level}))
}

// FreePort is a loopback TCP port free a moment ago, for a server that
// must come back on the same port after a stop.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
