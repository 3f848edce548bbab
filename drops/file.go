package drops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// File is the Keeper of a single node: the links in memory, written
// through to one JSON file on every change, atomically (a temp file beside
// it, synced, renamed over it, the folder synced), so that a crash leaves
// the old file or the new one, never a mix. The file is the node's alone:
// two processes sharing one would each overwrite the other's changes
// (several nodes share links through the cluster's Keeper instead).
type File struct {
	path string // "" for Memory: nothing written

	mu    sync.Mutex
	rev   uint64 // the newest revision given to any key
	links map[string]fileEntry
}

type fileEntry struct {
	Rev   uint64          `json:"rev"`
	Value json.RawMessage `json:"value"`
}

// fileState is the file's content.
type fileState struct {
	Version int                  `json:"version"` // 1
	Rev     uint64               `json:"rev"`
	Links   map[string]fileEntry `json:"links"`
}

// Memory returns a Keeper that keeps links in memory only: they do not
// survive a restart.
func Memory() *File { return &File{links: make(map[string]fileEntry)} }

// OpenFile returns the Keeper of the state file path, reading what it holds
// (a file that does not exist yet holds nothing). The folder must exist;
// the file is created readable by its owner only (0600): it holds the
// links' ids, each a capability.
func OpenFile(path string) (*File, error) {
	f := &File{path: path, links: make(map[string]fileEntry)}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("drops: %w", err)
	}
	var st fileState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("drops: %s: %w", path, err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("drops: %s: version %d, want 1", path, st.Version)
	}
	if st.Links != nil {
		f.links = st.Links
	}
	f.rev = st.Rev
	return f, nil
}

// Get implements Keeper.
func (f *File) Get(_ context.Context, key string) ([]byte, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.links[key]
	if !ok {
		return nil, 0, fmt.Errorf("drops: %w", fs.ErrNotExist)
	}
	return slices.Clone(e.Value), e.Rev, nil
}

// Create implements Keeper.
func (f *File) Create(_ context.Context, key string, value []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[key]; ok {
		return ErrConflict
	}
	return f.setLocked(key, value)
}

// Update implements Keeper.
func (f *File) Update(_ context.Context, key string, value []byte, rev uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.links[key]; !ok || e.Rev != rev {
		return ErrConflict
	}
	return f.setLocked(key, value)
}

// Delete implements Keeper.
func (f *File) Delete(_ context.Context, key string, rev uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.links[key]
	switch {
	case !ok:
		return nil
	case e.Rev != rev:
		return ErrConflict
	}
	next := maps.Clone(f.links)
	delete(next, key)
	if err := f.saveLocked(next, f.rev); err != nil {
		return err
	}
	f.links = next
	return nil
}

// List implements Keeper.
func (f *File) List(context.Context) ([]Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Entry, 0, len(f.links))
	for k, e := range f.links {
		out = append(out, Entry{Key: k, Value: slices.Clone(e.Value), Rev: e.Rev})
	}
	return out, nil
}

// setLocked keeps value under key with a new revision, in the file first:
// a change that could not be written is not made.
func (f *File) setLocked(key string, value []byte) error {
	rev := f.rev + 1
	next := maps.Clone(f.links)
	next[key] = fileEntry{Rev: rev, Value: slices.Clone(value)}
	if err := f.saveLocked(next, rev); err != nil {
		return err
	}
	f.links, f.rev = next, rev
	return nil
}

// saveLocked writes links to the file, atomically.
func (f *File) saveLocked(links map[string]fileEntry, rev uint64) (err error) {
	if f.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(fileState{Version: 1, Rev: rev, Links: links}, "", "\t")
	if err != nil {
		return err
	}
	dir, base := filepath.Split(f.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*") // 0600
	if err != nil {
		return fmt.Errorf("drops: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("drops: writing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("drops: syncing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("drops: closing %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("drops: %w", err)
	}
	// The rename is durable once the folder is: without this a crash
	// could bring the old file back. Best effort: the new file is in
	// place, and the change is made.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
