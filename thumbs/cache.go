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

// cache keeps thumbnails by key, on disk through root (nil: in memory),
// within max bytes, evicting the least recently used.
//
// The files are the truth and the index is this process's view of them:
// another server sharing the folder may add or evict files behind its
// back. A key the index lacks is looked for on disk all the same, and a
// file gone is dropped from the index when found gone.
type cache struct {
	root *os.Root
	max  int64
	m    *Metrics
	log  *slog.Logger

	mu    sync.Mutex // guards what follows; never held over file I/O
	total int64
	lru   list.List                // of *entry, most recently used first
	items map[string]*list.Element // by key
}

// entry is one thumbnail in the index.
type entry struct {
	key     string
	size    int64
	data    []byte    // in memory only
	touched time.Time // on disk: when its modification time was last set
}

// openCache opens the cache folder dir, making it if needed, and indexes
// what is in it; "" keeps the cache in memory.
func openCache(dir string, max int64, m *Metrics, log *slog.Logger) (*cache, error) {
	c := &cache{max: max, m: m, log: log, items: make(map[string]*list.Element)}
	if dir == "" {
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("thumbs: cache folder: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("thumbs: cache folder: %w", err)
	}
	c.root = root
	if err := c.scan(time.Now()); err != nil {
		root.Close()
		return nil, err
	}
	return c, nil
}

// scan indexes the thumbnails in the folder, in the order of their
// modification times (a hit sets it), removes stale temp files and evicts
// down to max.
func (c *cache) scan(now time.Time) error {
	d, err := c.root.Open(".")
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
				c.remove(name)
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
	c.drop(victims)
	c.log.Debug("thumbs: cache", "thumbnails", len(all), "bytes", c.total)
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

func (c *cache) close() error {
	if c.root == nil {
		return nil
	}
	return c.root.Close()
}

// get returns the thumbnail of key, if kept, and marks it used.
func (c *cache) get(key string) ([]byte, bool) {
	if c.root == nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		el, ok := c.items[key]
		if !ok {
			return nil, false
		}
		c.lru.MoveToFront(el)
		return el.Value.(*entry).data, true
	}
	name := key + ext
	b, err := c.root.ReadFile(name)
	if err == nil && !validJPEG(b) { // cut short by a crash: made again
		c.remove(name)
		err = fs.ErrNotExist
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("thumbs: read cache", "key", key, "err", err)
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
		c.drop(victims)
	}
	if touch {
		if err := c.root.Chtimes(name, now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Debug("thumbs: touch", "key", key, "err", err)
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
	if c.root == nil {
		e.data = b
	} else if err := c.write(key+ext, b); err != nil {
		return err
	}
	c.mu.Lock()
	victims := c.addLocked(e)
	c.mu.Unlock()
	c.drop(victims)
	return nil
}

// write writes b to the file name atomically.
func (c *cache) write(name string, b []byte) (err error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := tempPrefix + hex.EncodeToString(rnd[:])
	f, err := c.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("thumbs: write cache: %w", err)
	}
	defer func() {
		if err != nil {
			c.remove(tmp)
		}
	}()
	// No fsync: after a crash a thumbnail cut short fails validJPEG and is
	// made again, which is cheaper than a sync for each one.
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = c.root.Rename(tmp, name)
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

// drop removes evicted thumbnails' files, outside the lock.
func (c *cache) drop(victims []*entry) {
	for _, e := range victims {
		c.m.EvictedBytes.Add(float64(e.size))
		if c.root != nil {
			c.remove(e.key + ext)
		}
	}
}

// remove removes a file of the cache folder; one already gone is fine.
func (c *cache) remove(name string) {
	if err := c.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("thumbs: remove from cache", "name", name, "err", err)
	}
}

// bytes returns the bytes of thumbnails the index holds.
func (c *cache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
