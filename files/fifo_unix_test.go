//go:build unix

package files_test

import (
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFIFO checks that a named pipe in the folder is neither listed nor
// opened: open(2) on a FIFO blocks until a writer comes, which would hang
// the request.
func TestFIFO(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{setup: func(t *testing.T, dir string) {
		if err := syscall.Mkfifo(filepath.Join(dir, "docs", "pipe.txt"), 0o644); err != nil {
			t.Skip("no FIFOs here:", err)
		}
	}})
	resp, _ := e.do(t, http.MethodGet, "/docs/pipe.txt", nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET of a FIFO = %d, want 404", resp.StatusCode)
	}
	entries, err := e.store.List("docs")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.Name == "pipe.txt" {
			t.Errorf("FIFO listed: %+v", en)
		}
	}
}
