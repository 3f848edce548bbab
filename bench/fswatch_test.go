package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filehub/files"
	"filehub/hub"
	"filehub/watch"
)

// startWatchingFilehub serves a hub whose folder is watched, as main.go
// wires them, and returns its address and folder.
func startWatchingFilehub(t *testing.T) (addr, dir string) {
	t.Helper()
	dir = t.TempDir()
	store, err := files.Open(dir, files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(store, hub.Config{Logger: slog.New(slog.DiscardHandler)})
	w, err := watch.Start(dir, store, h.FolderChanged, watch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Shutdown()
		srv.Close()
		w.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Error(err)
		}
		store.Close()
	})
	return srv.Listener.Addr().String(), dir
}

func TestFSWatchSmoke(t *testing.T) {
	t.Parallel()
	addr, dir := startWatchingFilehub(t)
	for _, every := range []string{"5ms", "0"} {
		rows := runTool(t, "fswatch", "-target", "filehub="+addr, "-dir", dir, "-n", "20", "-every", every)
		r := rows[0]
		if r["files"].(float64) != 20 || r["fs_messages"].(float64) < 20 || r["p50_ms"].(float64) <= 0 || r["remove_ms"].(float64) <= 0 {
			t.Errorf("fswatch -every %s: %v", every, r)
		}
		if every == "0" && r["ws_frames"].(float64) >= 20 {
			t.Errorf("a burst of 20 files took %v frames", r["ws_frames"])
		}
	}
	left, err := os.ReadDir(dir)
	if err != nil || len(left) != 0 {
		t.Errorf("the tool left %d entries in the folder (%v)", len(left), err)
	}
}

func TestFSTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"fstree", "-dir", dir, "-folders", "30", "-files", "3", "-size", "10"}, os.Getenv, &out, &errs); err != nil {
		t.Fatal(err, errs.String())
	}
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if n != 90 {
		t.Fatalf("%d files, want 90: %s", n, out.String())
	}
}
