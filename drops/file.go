package drops

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// File is the Keeper of a single node: the links in memory, and every
// change appended to one file (a log of JSON lines, synced) before it is
// made, so that a change the file did not take is not made. The file is
// the node's alone: two processes sharing one would each lose the other's
// changes (several nodes share links through the cluster's Keeper
// instead).
//
// Why a log and not a rewrite: every upload through a link changes the
// link twice (reserve, settle), and rewriting a state of 1,000 links for
// each was about 730 KiB written and synced per request. An append writes
// one line (a few hundred bytes). The log is compacted (rewritten whole,
// atomically: a temp file beside it, synced, renamed over it, the folder
// synced) when it holds more than twice as many lines as links, plus
// compactSlack: an amortised constant per change. A change that changes
// nothing (the same value) writes nothing. An embedded database would do
// the same with a dependency and a file format of its own; a few hundred
// links do not need one.
//
// A crash leaves every change that was synced, and at most a torn last
// line, which is dropped when the file is opened. A file in the old
// format (one JSON object, version 1) is read and rewritten as a log.
type File struct {
	path string // "" for Memory: nothing written

	mu      sync.Mutex
	rev     uint64 // the newest revision given to any key
	links   map[string]fileEntry
	log     *os.File // written at size; nil for Memory, and until the first change
	size    int64    // of the log, through its last whole line
	records int      // lines in the log after its header
}

type fileEntry struct {
	Rev   uint64          `json:"rev"`
	Value json.RawMessage `json:"value"`
}

// fileState is the old format's content (version 1), read and converted.
type fileState struct {
	Version int                  `json:"version"` // 1
	Rev     uint64               `json:"rev"`
	Links   map[string]fileEntry `json:"links"`
}

// logHeader is the log's first line; logRecord every other: a key's new
// value, or its removal.
type logHeader struct {
	Version int `json:"version"` // 2
}

type logRecord struct {
	Rev     uint64          `json:"rev"`
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value,omitempty"`
	Deleted bool            `json:"deleted,omitempty"`
}

// compactSlack is how many lines past twice the links a log may hold.
const compactSlack = 64

// Memory returns a Keeper that keeps links in memory only: they do not
// survive a restart.
func Memory() *File { return &File{links: make(map[string]fileEntry)} }

// OpenFile returns the Keeper of the state file path, reading what it holds
// (a file that does not exist yet holds nothing). The folder must exist;
// the file is created readable by its owner only (0600): it holds the
// links' ids, each a capability. Close closes it.
func OpenFile(path string) (*File, error) {
	f := &File{path: path, links: make(map[string]fileEntry)}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f, nil // made by the first change: a folder without links gets no file
	case err != nil:
		return nil, fmt.Errorf("drops: %w", err)
	}
	var st fileState
	if json.Unmarshal(b, &st) == nil && st.Version == 1 {
		if st.Links != nil {
			f.links = st.Links
		}
		f.rev = st.Rev
		return f, f.compactLocked() // into the log's format, once
	}
	torn, err := f.read(b)
	if err != nil {
		return nil, fmt.Errorf("drops: %s: %w", path, err)
	}
	if torn || f.records > 2*len(f.links)+compactSlack {
		return f, f.compactLocked()
	}
	f.log, err = os.OpenFile(path, os.O_WRONLY, 0) // written at f.size: see appendLocked
	if err != nil {
		return nil, fmt.Errorf("drops: %w", err)
	}
	f.size = int64(len(b))
	return f, nil
}

// read replays a log. torn says its last line was cut short (a crash while
// appending): that change was never made, and is dropped.
func (f *File) read(b []byte) (torn bool, err error) {
	line, rest, ok := bytes.Cut(b, []byte("\n"))
	var h logHeader
	if !ok || json.Unmarshal(line, &h) != nil || h.Version != 2 {
		return false, errors.New("not a drop links state file (version 1 or 2)")
	}
	for n := 2; len(rest) > 0; n++ {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		var r logRecord
		if err := json.Unmarshal(line, &r); err != nil || r.Key == "" {
			if !ok { // the last line, without its newline: torn
				return true, nil
			}
			return false, fmt.Errorf("line %d: not a record", n)
		}
		if r.Deleted {
			delete(f.links, r.Key)
		} else {
			f.links[r.Key] = fileEntry{Rev: r.Rev, Value: r.Value}
		}
		f.rev = max(f.rev, r.Rev)
		f.records++
		if !ok {
			return true, nil // whole, but its newline torn off: rewritten
		}
	}
	return false, nil
}

// Close closes the file. The Keeper must not be used after.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.log == nil {
		return nil
	}
	err := f.log.Close()
	f.log = nil
	return err
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

// Update implements Keeper. The same value again changes nothing: no
// line is written and the revision stays.
func (f *File) Update(_ context.Context, key string, value []byte, rev uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.links[key]
	switch {
	case !ok || e.Rev != rev:
		return ErrConflict
	case bytes.Equal(e.Value, value):
		return nil
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
	if err := f.appendLocked(logRecord{Rev: f.rev, Key: key, Deleted: true}); err != nil {
		return err
	}
	delete(f.links, key)
	return f.maybeCompactLocked()
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
	value = slices.Clone(value)
	if err := f.appendLocked(logRecord{Rev: rev, Key: key, Value: value}); err != nil {
		return err
	}
	f.links[key], f.rev = fileEntry{Rev: rev, Value: value}, rev
	return f.maybeCompactLocked()
}

// appendLocked writes one record at the end of the log and syncs it. The
// end is f.size, the end of the last whole line: a write that failed
// half-way is written over by the next one (and cut off meanwhile).
func (f *File) appendLocked(r logRecord) error {
	if f.path == "" {
		return nil
	}
	if f.log == nil { // nothing written yet: the file is made with its first change
		if err := f.compactLocked(); err != nil {
			return err
		}
	}
	b, err := json.Marshal(r) // one line: json.Marshal never writes a newline
	if err != nil {
		return fmt.Errorf("drops: %w", err)
	}
	b = append(b, '\n')
	if _, err := f.log.WriteAt(b, f.size); err != nil {
		_ = f.log.Truncate(f.size)
		return fmt.Errorf("drops: appending to %s: %w", f.path, err)
	}
	if err := f.log.Sync(); err != nil {
		_ = f.log.Truncate(f.size)
		return fmt.Errorf("drops: syncing %s: %w", f.path, err)
	}
	f.size += int64(len(b))
	f.records++
	return nil
}

// maybeCompactLocked compacts a log that grew past twice its links. The
// change is in the log already, and a compaction that failed left the log
// whole and in use: the next change tries again.
func (f *File) maybeCompactLocked() error {
	if f.path != "" && f.records > 2*len(f.links)+compactSlack {
		_ = f.compactLocked()
	}
	return nil
}

// compactLocked writes the links as a new log, atomically, and appends to
// it from then on.
func (f *File) compactLocked() (err error) {
	if f.path == "" {
		return nil
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
	bw := bufio.NewWriter(tmp)
	cw := &countWriter{w: bw}
	enc := json.NewEncoder(cw) // Encode ends each value with a newline
	if err = enc.Encode(logHeader{Version: 2}); err != nil {
		return fmt.Errorf("drops: %w", err)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range f.links {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		e := f.links[k]
		if err = enc.Encode(logRecord{Rev: e.Rev, Key: k, Value: e.Value}); err != nil {
			return fmt.Errorf("drops: %w", err)
		}
	}
	if len(keys) == 0 && f.rev > 0 { // keep the revision counter going
		if err = enc.Encode(logRecord{Rev: f.rev, Key: "-", Deleted: true}); err != nil {
			return fmt.Errorf("drops: %w", err)
		}
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("drops: writing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("drops: syncing %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("drops: %w", err)
	}
	// The rename is durable once the folder is: without this a crash
	// could bring the old file back. Best effort: the new file is in
	// place.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	if f.log != nil {
		f.log.Close()
	}
	// tmp, renamed, is the log now: written at f.size from here on.
	f.log, f.size, f.records = tmp, cw.n, len(keys)
	return nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
