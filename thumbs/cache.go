package thumbs

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// keyLen is the length of a key: 16 bytes of SHA-256, in hex.
	keyLen = 32
	// ext ends every cached thumbnail's name: "<key>.jpg".
	ext = ".jpg"
	// tempPrefix starts the name of a thumbnail being written.
	tempPrefix = "tmp-"
	// staleTemp is how old a temp file must be before a start removes it:
	// another server sharing the folder may be writing it now, but never
	// for this long.
	staleTemp = time.Hour
	// touchEvery is how often a hit sets its file's modification time,
	// which is the LRU order the next start reads back: often enough for
	// that order, rare enough that hits cost no write each.
	touchEvery = time.Minute
)

// cache keeps thumbnails by key, on disk in dir ("": in memory), within
// max bytes, evicting the least recently used.
//
// The folder is made when the first thumbnail is kept, not before: a
// server that never shows a picture leaves no folder behind.
//
// The files are the truth and the index is this process's view of them:
// another server sharing the folder may add or evict files behind its
// back. A key the index lacks is looked for on disk all the same, and a
// file gone is dropped from the index when found gone.
type cache struct {
	dir string
	max int64
	m   *Metrics
	log *slog.Logger

	mu    sync.Mutex // guards what follows; never held over file I/O
	total int64
	lru   list.List                // of *entry, most recently used first
	items map[string]*list.Element // by key

	rootMu sync.Mutex // guards root and closed; held over opening the folder only
	root   *os.Root   // nil until the folder exists and is open
	closed bool
}

// entry is one thumbnail in the index.
type entry struct {
	key     string
	size    int64
	data    []byte    // in memory only
	touched time.Time // on disk: when its modification time was last set
}

// openCache opens the cache folder dir, if it exists, and indexes what is
// in it; "" keeps the cache in memory.
func openCache(dir string, max int64, m *Metrics, log *slog.Logger) (*cache, error) {
	c := &cache{dir: dir, max: max, m: m, log: log, items: make(map[string]*list.Element)}
	if dir == "" {
		return c, nil
	}
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil // made by the first put
	}
	if err != nil {
		return nil, fmt.Errorf("thumbs: cache folder: %w", err)
	}
	c.root = root
	if err := c.scan(root, time.Now()); err != nil {
		root.Close()
		return nil, err
	}
	return c, nil
}

// folder returns the cache folder, open; with create, it makes it first if
// needed. nil when it does not exist (or cannot be made), or after close.
func (c *cache) folder(create bool) *os.Root {
	c.rootMu.Lock()
	defer c.rootMu.Unlock()
	if c.closed {
		return nil
	}
	if c.root != nil {
		return c.root
	}
	if create {
		if err := os.MkdirAll(c.dir, 0o700); err != nil {
			c.log.Warn("make cache folder", "dir", c.dir, "err", err)
			return nil
		}
	}
	root, err := os.OpenRoot(c.dir)
	if err != nil {
		if create {
			c.log.Warn("open cache folder", "dir", c.dir, "err", err)
		}
		return nil
	}
	c.root = root
	return root
}

// scan indexes the thumbnails in the folder, in the order of their
// modification times (a hit sets it), removes stale temp files and evicts
// down to max.
func (c *cache) scan(root *os.Root, now time.Time) error {
	d, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("thumbs: cache folder: %w", err)
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("thumbs: read cache folder: %w", err)
	}
	type found struct {
		key  string
		size int64
		mod  time.Time
	}
	var all []found
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		if strings.HasPrefix(name, tempPrefix) {
			if now.Sub(fi.ModTime()) > staleTemp {
				c.remove(root, name)
			}
			continue
		}
		if key, ok := keyOf(name); ok {
			all = append(all, found{key, fi.Size(), fi.ModTime()})
		}
	}
	slices.SortFunc(all, func(a, b found) int { return a.mod.Compare(b.mod) })
	for _, f := range all { // oldest first, so the newest ends in front
		c.mu.Lock()
		c.items[f.key] = c.lru.PushFront(&entry{key: f.key, size: f.size, touched: f.mod})
		c.total += f.size
		c.mu.Unlock()
	}
	c.mu.Lock()
	victims := c.evictLocked()
	c.mu.Unlock()
	c.dropFrom(root, victims)
	c.log.Debug("cache read", "dir", c.dir, "thumbnails", len(all), "bytes", c.total)
	return nil
}

// keyOf returns the key of a cached thumbnail's file name.
func keyOf(name string) (string, bool) {
	key, ok := strings.CutSuffix(name, ext)
	if !ok || len(key) != keyLen {
		return "", false
	}
	if _, err := hex.DecodeString(key); err != nil {
		return "", false
	}
	return key, true
}

// close closes the folder; thumbnails put after it are not kept.
func (c *cache) close() error {
	c.rootMu.Lock()
	defer c.rootMu.Unlock()
	c.closed = true
	if c.root == nil {
		return nil
	}
	return c.root.Close()
}

// get returns the thumbnail of key, if kept, and marks it used.
func (c *cache) get(key string) ([]byte, bool) {
	if c.dir == "" {
		c.mu.Lock()
		defer c.mu.Unlock()
		el, ok := c.items[key]
		if !ok {
			return nil, false
		}
		c.lru.MoveToFront(el)
		return el.Value.(*entry).data, true
	}
	root := c.folder(false)
	if root == nil {
		return nil, false
	}
	name := key + ext
	b, err := root.ReadFile(name)
	if err == nil && !validJPEG(b) { // cut short by a crash: made again
		c.remove(root, name)
		err = fs.ErrNotExist
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("read cache", "key", key, "err", err)
		}
		c.mu.Lock()
		if el, ok := c.items[key]; ok { // evicted by another server
			c.unlinkLocked(el)
		}
		c.mu.Unlock()
		return nil, false
	}
	now := time.Now()
	touch := false
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*entry)
		if now.Sub(e.touched) > touchEvery {
			e.touched, touch = now, true
		}
		c.mu.Unlock()
	} else { // written by another server
		victims := c.addLocked(&entry{key: key, size: int64(len(b)), touched: now})
		c.mu.Unlock()
		c.dropFrom(root, victims)
	}
	if touch {
		if err := root.Chtimes(name, now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Debug("touch", "key", key, "err", err)
		}
	}
	return b, true
}

// put keeps b as the thumbnail of key: on disk, written to a temp file and
// renamed into place, so that a reader never sees a part of it.
func (c *cache) put(key string, b []byte) error {
	if int64(len(b)) > c.max {
		return nil // it would evict everything, itself included
	}
	e := &entry{key: key, size: int64(len(b)), touched: time.Now()}
	var root *os.Root
	if c.dir == "" {
		e.data = b
	} else {
		if root = c.folder(true); root == nil {
			return fmt.Errorf("thumbs: no cache folder %s", c.dir)
		}
		if err := c.write(root, key+ext, b); err != nil {
			return err
		}
	}
	c.mu.Lock()
	victims := c.addLocked(e)
	c.mu.Unlock()
	c.dropFrom(root, victims)
	return nil
}

// write writes b to the file name atomically.
func (c *cache) write(root *os.Root, name string, b []byte) (err error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := tempPrefix + hex.EncodeToString(rnd[:])
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("thumbs: write cache: %w", err)
	}
	defer func() {
		if err != nil {
			c.remove(root, tmp)
		}
	}()
	// No fsync: after a crash a thumbnail cut short fails validJPEG and is
	// made again, which is cheaper than a sync for each one.
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		return fmt.Errorf("thumbs: write cache: %w", err)
	}
	return nil
}

// addLocked indexes e as the most recently used and returns what must be
// evicted to stay within max, already unlinked from the index.
func (c *cache) addLocked(e *entry) []*entry {
	if el, ok := c.items[e.key]; ok {
		c.unlinkLocked(el)
	}
	c.items[e.key] = c.lru.PushFront(e)
	c.total += e.size
	return c.evictLocked()
}

// evictLocked unlinks the least recently used entries until the total is
// within max, and returns them.
func (c *cache) evictLocked() []*entry {
	var victims []*entry
	for c.total > c.max {
		el := c.lru.Back()
		if el == nil {
			break
		}
		victims = append(victims, el.Value.(*entry))
		c.unlinkLocked(el)
	}
	c.m.CacheBytes.Set(float64(c.total))
	return victims
}

func (c *cache) unlinkLocked(el *list.Element) {
	e := c.lru.Remove(el).(*entry)
	delete(c.items, e.key)
	c.total -= e.size
	c.m.CacheBytes.Set(float64(c.total))
}

// dropFrom removes evicted thumbnails' files from root (nil: in memory,
// nothing to remove), outside the lock.
func (c *cache) dropFrom(root *os.Root, victims []*entry) {
	for _, e := range victims {
		c.m.EvictedBytes.Add(float64(e.size))
		if root != nil {
			c.remove(root, e.key+ext)
		}
	}
}

// remove removes a file of the cache folder; one already gone is fine.
func (c *cache) remove(root *os.Root, name string) {
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("remove from cache", "name", name, "err", err)
	}
}

// bytes returns the bytes of thumbnails the index holds.
func (c *cache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
