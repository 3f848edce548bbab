// Package index holds the served folder's tree in memory (names, kinds,
// sizes, modification times, types), kept current by the folder watcher's
// changes, and answers folder listings and search from it.
//
// The index knows nothing of the disk: it is the fold of the watcher's
// announcements, the start (watch.Config.Baseline: the tree as the
// watcher's first walk found it) and every change after it, inotify's or a
// rescan's. So the fs frames, the listings and search can never disagree,
// and what the watcher never announces (dotfiles unless -show-hidden, temp
// files, links that leave the folder or lead to a hidden name, FIFOs,
// reserved names: the files.Store's rules) is never listed or found. Apply
// runs before the rooms hear of a change, so a listing asked for after an
// fs frame already shows it.
//
// Folders behind a symlink are not walked by the watcher (what they hold is
// announced under its real path): the index holds no contents for them,
// nor for an empty folder, and the files handler lists those from the disk
// (files.Lister's ok false).
//
// Past Config.Limit entries the index turns itself off for good, frees
// what it held, and says so in the log: listings then come from the disk
// and search answers ErrOff. Memory is about 155 bytes an entry, its name
// included (15.6 MB per 100,000; BENCHMARKS.md).
//
// The files package does not import this one (style rule 3): the files
// handler receives the index as a files.Lister, wired in the server.
package index

import (
	"errors"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"filehub/files"
	"filehub/vocab"
)

// defaultLimit is Config.Limit's default: a million entries are about
// 160 MB with their names; a tree that large is better listed from the
// disk than held.
const defaultLimit = 1_000_000

// ErrOff is a search while the index is off: past Config.Limit, or closed.
var ErrOff = errors.New("index: off")

// Config configures an Index.
type Config struct {
	// Limit is the most entries the index holds: one more turns it off
	// (listings from the disk, no search) until the server restarts.
	// Defaults to 1,000,000.
	Limit int
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Index is the tree in memory. Its methods are safe for concurrent use.
//
// Locks: mu, then a folder's views mutex. Apply holds mu to write; readers
// hold it to read, and build a folder's sorted views under the folder's
// own mutex (two readers must not build the same view twice).
type Index struct {
	store *files.Store
	cfg   Config
	log   *slog.Logger

	mu      sync.RWMutex
	folders map[string]*folder // by clean path, "." the root; real folders that hold something
	n       int                // entries
	off     bool
}

// folder is a folder that holds entries.
type folder struct {
	path  string // clean, "." for the root
	fold  string // fold(path) + "/", "" for the root: what search matches words against
	depth int    // elements in path, 0 for the root
	ents  map[string]*entry

	vmu   sync.Mutex
	views [3][]*files.Entry // by files.Sort; nil until asked, dropped on change
	srch  *searchable       // nil until searched, dropped on change
}

// entry is an entry as held: never changed once made (listings write it
// without a lock); a change makes a new one.
type entry = files.Entry

// searchable is a folder's entries as search scans them: their folded
// names in one string, each followed by a NUL, so that one strings.Index
// (vectorised) passes over a folder's names that do not match at the
// speed of memory.
type searchable struct {
	blob string   // fold(name) + "\x00", entry after entry
	offs []int32  // where each entry's name starts in blob, and len(blob) last
	ents []*entry // in blob's order
}

// name is the folded name of the i-th entry.
func (s *searchable) name(i int) string { return s.blob[s.offs[i] : s.offs[i+1]-1] }

// at is the entry whose name holds blob's byte pos.
func (s *searchable) at(pos int) int {
	return sort.Search(len(s.ents), func(i int) bool { return int(s.offs[i+1]) > pos })
}

// New returns an empty index of the folder store serves (store checks the
// paths given to Search). Feed it with Apply.
func New(store *files.Store, cfg Config) *Index {
	if cfg.Limit <= 0 {
		cfg.Limit = defaultLimit
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Index{store: store, cfg: cfg, log: cfg.Logger, folders: make(map[string]*folder)}
}

// Len is the number of entries held (0 when off).
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n
}

// Off reports whether the index turned itself off.
func (x *Index) Off() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.off
}

// Load records the tree as the watcher's first walk found it (its
// baseline): adds, a folder before what is in it.
func (x *Index) Load(cs ...vocab.Change) { x.apply(cs, nil) }

// Apply records changes, in order. It must be called with every change the
// watcher announces after its baseline (Load), before the rooms hear of
// them.
//
// The watcher never announces a folder's own modification time (it
// changes with every entry made or removed in it, and those are announced
// themselves), so Apply reads it again for each folder where something
// changed (a file renamed over another is a change): one stat per folder
// per call, before the lock is taken.
func (x *Index) Apply(cs ...vocab.Change) {
	var mods map[string]int64
	for i := range cs {
		p := path.Dir(cs[i].Path)
		if p == "." {
			continue
		}
		if _, ok := mods[p]; ok {
			continue
		}
		if mods == nil {
			mods = make(map[string]int64)
		}
		mods[p] = -1
		if in, err := x.store.Stat(p); err == nil && in.Dir {
			mods[p] = in.Modified.UnixNano()
		}
	}
	x.apply(cs, mods)
}

// apply records cs, then the folders' modification times in mods (-1: not
// known).
func (x *Index) apply(cs []vocab.Change, mods map[string]int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.off {
		return
	}
	for i := range cs {
		x.applyLocked(&cs[i])
	}
	for p, mod := range mods {
		if mod >= 0 {
			x.touchLocked(p, mod)
		}
	}
	if x.n > x.cfg.Limit {
		x.log.Warn("past the limit; listing from the disk, no search (-index-limit)",
			"entries", x.n, "limit", x.cfg.Limit)
		x.off = true
		x.folders = nil
		x.n = 0
	}
}

func (x *Index) applyLocked(c *vocab.Change) {
	if c.Path == "." || c.Path == "" {
		return // the folder itself: never an entry
	}
	parent, name := path.Dir(c.Path), path.Base(c.Path)
	f := x.folders[parent]
	old := (*entry)(nil)
	if f != nil {
		old = f.ents[name]
	}
	if c.Op == vocab.FSRemove || (old != nil && old.Dir != c.Dir) {
		if old != nil {
			delete(f.ents, name)
			x.n--
			f.changed()
			if len(f.ents) == 0 && parent != "." {
				delete(x.folders, parent)
				f = nil // an add below makes it again
			}
		}
		x.dropLocked(c.Path)
		if c.Op == vocab.FSRemove {
			return
		}
	}
	if f == nil {
		f = x.folderLocked(parent)
	}
	// A copy of the name: a slice of c.Path would keep the whole path.
	e := &entry{Name: strings.Clone(name), Dir: c.Dir, Mod: c.Modified.UnixNano()}
	if c.Dir {
		e.Type = "inode/directory"
	} else {
		e.Size = c.Size
		e.Type = files.ContentType(name)
	}
	if _, had := f.ents[name]; !had {
		x.n++
	}
	f.ents[name] = e
	f.changed()
}

// touchLocked sets the modification time of the folder p, when held.
func (x *Index) touchLocked(p string, mod int64) {
	parent, name := path.Dir(p), path.Base(p)
	f := x.folders[parent]
	if f == nil {
		return
	}
	old := f.ents[name]
	if old == nil || !old.Dir || old.Mod == mod {
		return
	}
	e := *old // entries never change once made: a new one
	e.Mod = mod
	f.ents[name] = &e
	f.changed()
}

// folderLocked returns the folder p, made when it holds nothing yet.
func (x *Index) folderLocked(p string) *folder {
	f := x.folders[p]
	if f == nil {
		f = &folder{path: p, ents: make(map[string]*entry)}
		if p != "." {
			f.fold = fold(p) + "/"
			f.depth = strings.Count(p, "/") + 1
		}
		x.folders[p] = f
	}
	return f
}

// dropLocked forgets the folder p and everything below it.
func (x *Index) dropLocked(p string) {
	f := x.folders[p]
	if f == nil {
		return
	}
	for name, e := range f.ents {
		if e.Dir {
			x.dropLocked(p + "/" + name)
		}
	}
	x.n -= len(f.ents)
	delete(x.folders, p)
}

// changed drops the folder's sorted views and search table; called with
// Index.mu held to write.
func (f *folder) changed() {
	f.views = [3][]*files.Entry{}
	f.srch = nil
}

// searchable is the folder's search table, built on the first search after
// a change; called with Index.mu held to read.
func (f *folder) searchable() *searchable {
	f.vmu.Lock()
	defer f.vmu.Unlock()
	if f.srch != nil {
		return f.srch
	}
	s := &searchable{offs: make([]int32, 0, len(f.ents)+1), ents: make([]*entry, 0, len(f.ents))}
	var b strings.Builder
	for _, e := range f.ents {
		s.offs = append(s.offs, int32(b.Len()))
		s.ents = append(s.ents, e)
		b.WriteString(fold(e.Name))
		b.WriteByte(0)
	}
	s.offs = append(s.offs, int32(b.Len()))
	s.blob = b.String()
	f.srch = s
	return s
}

// Listing is files.Lister's: the folder p's entries sorted by k, built on
// the first listing after a change and shared until the next.
func (x *Index) Listing(p string, k files.Sort) ([]*files.Entry, bool) {
	if k > files.SortModified {
		return nil, false
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	f := x.folders[p]
	if f == nil {
		return nil, false
	}
	f.vmu.Lock()
	defer f.vmu.Unlock()
	if v := f.views[k]; v != nil {
		return v, true
	}
	v := make([]*files.Entry, 0, len(f.ents))
	if k != files.SortName && f.views[files.SortName] != nil {
		v = append(v, f.views[files.SortName]...)
	} else {
		for _, e := range f.ents {
			v = append(v, e)
		}
	}
	slices.SortFunc(v, k.Compare)
	f.views[k] = v
	return v, true
}

var _ files.Lister = (*Index)(nil)

// Walk calls fn with every entry held, by folder (clean path) and entry,
// in no order, under the read lock: fn must not call the Index. For tests
// and measurements.
func (x *Index) Walk(fn func(dir string, e files.Entry)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, f := range x.folders {
		for _, e := range f.ents {
			fn(f.path, *e)
		}
	}
}
