// Package thumbs makes small JPEG thumbnails of the served folder's images
// (JPEG, PNG, GIF's first frame, WebP; a JPEG's EXIF orientation applied)
// and keeps them in a bounded cache, on disk outside the served folder.
//
// Files are reached through the files.Store alone, with the Store's rules:
// a name it would not serve (a dotfile without ShowHidden, a reserved name,
// a symlink that leaves the folder or leads to a hidden name, a FIFO, a
// folder) has no thumbnail either, and opening never blocks.
//
// Decoding is where an image can hurt the server, so its limits come
// first: a file over Config.MaxFileBytes is refused by its size, and one
// whose header claims more than Config.MaxPixels (a few hundred bytes of
// PNG can claim 100000×100000) by image.DecodeConfig, before any pixel is
// allocated. The file is read once into memory and both the header check
// and the decode read those bytes, so a file rewritten in place between
// the two cannot slip a larger image past the check. At most
// Config.Concurrency thumbnails are made at once; a request waits for a
// slot only as long as it lives, and identical requests made together
// share one decode. A decode holds up to about 8 bytes per pixel (the
// decoded image, and its rotated copy when EXIF says so): with the
// defaults, 2 × 50 MP × 8 B ≈ 800 MB at worst on a two-core machine.
//
// A thumbnail is keyed by the file's path, its size, its modification
// time and the thumbnail's size, so a changed file gets a fresh one (the
// old one ages out of the cache). The cache is written atomically (a temp
// file, then a rename), bounded by Config.MaxCacheBytes, and evicts the
// least recently used; it survives restarts.
package thumbs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"filehub/files"
)

const (
	// DefaultSize is the longest side of a thumbnail when the request
	// names none.
	DefaultSize = 256

	defaultMaxPixels     = 50_000_000
	defaultMaxFileBytes  = 64 << 20
	defaultMaxCacheBytes = 256 << 20
	// defaultMemoryCacheBytes bounds a cache without Dir: memory is dearer
	// than disk, and 32 MiB still holds a thousand or so thumbnails.
	defaultMemoryCacheBytes = 32 << 20
	defaultQuality          = 80
	// defaultMaxAge is how long a browser may show a thumbnail without
	// asking again. Its URL stays the same when the file changes, so this
	// is short; asking again costs a stat and a 304.
	defaultMaxAge = 5 * time.Minute

	// version is part of every key and ETag: bump it when the way
	// thumbnails are made changes, and every cached one is made anew.
	version = "1"
)

// Sizes are the thumbnail sizes (longest side, in pixels) a request may
// ask for with ?s=; anything else is refused (400), so that a client
// cannot fill the cache with every size from 1 to 10000.
var Sizes = []int{128, 256, 512}

// Errors of Maker. A name the Store refuses comes back as the Store's
// error (fs.ErrNotExist, files.ErrBadPath…).
var (
	// ErrUnsupported is a servable file that has no thumbnail: not an
	// image this package decodes, broken, or over Config.MaxFileBytes or
	// Config.MaxPixels (415).
	ErrUnsupported = errors.New("no thumbnail for this file")
	// ErrBadSize is a size that is not one of Sizes (400).
	ErrBadSize = errors.New("thumbnail size not offered")
	// ErrBusy is a file that kept changing while its thumbnail was being
	// made (503: try again).
	ErrBusy = errors.New("file changed while its thumbnail was made")
)

// Reasons an image is refused: the label of Metrics.Refused.
const (
	reasonFileSize = "file_size" // over MaxFileBytes
	reasonPixels   = "pixels"    // over MaxPixels
	reasonFormat   = "format"    // not JPEG, PNG, GIF or WebP
	reasonDecode   = "decode"    // claimed to be one, but broken
)

// refused is ErrUnsupported with its reason.
type refused struct {
	reason string
	detail string
}

func (e *refused) Error() string { return "thumbs: " + e.reason + ": " + e.detail }
func (e *refused) Unwrap() error { return ErrUnsupported }

// Config configures a Maker.
type Config struct {
	// Dir is the cache folder, made (0700) when the first thumbnail is
	// kept, so that a server that never shows a picture leaves no folder
	// behind. It must not be
	// inside the served folder (the caller checks: the Store does not
	// tell where it is), where it would be listed and served. Several
	// servers may share it. Defaults to "": thumbnails are kept in memory
	// only, and made again after a restart.
	Dir string
	// MaxCacheBytes bounds the bytes of thumbnails kept; the least
	// recently used go first. Defaults to 256 MiB with Dir, 32 MiB in
	// memory.
	MaxCacheBytes int64
	// MaxPixels is the largest image (width × height, as its header
	// claims) that is decoded. Defaults to 50 000 000.
	MaxPixels int64
	// MaxFileBytes is the largest file that is read to make a thumbnail.
	// Defaults to 64 MiB.
	MaxFileBytes int64
	// Concurrency is how many thumbnails are made at once. Defaults to
	// runtime.NumCPU().
	Concurrency int
	// Quality is the thumbnails' JPEG quality, 1 to 100. Defaults to 80.
	Quality int
	// MaxAge is the Cache-Control max-age of a thumbnail. Defaults to
	// 5 minutes.
	MaxAge time.Duration
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Metrics defaults to collectors registered nowhere.
	Metrics *Metrics
}

// Metrics are the thumbnails' Prometheus collectors.
type Metrics struct {
	Generated       prometheus.Counter
	CacheHits       prometheus.Counter
	Refused         *prometheus.CounterVec // by reason
	EvictedBytes    prometheus.Counter
	CacheBytes      prometheus.Gauge
	GenerateSeconds prometheus.Histogram
}

// NewMetrics builds the collectors and registers them with reg; a nil reg
// leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Generated: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "filehub", Name: "thumbs_generated_total",
			Help: "Thumbnails made by decoding an image (not found in the cache)."}),
		CacheHits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "filehub", Name: "thumbs_cache_hits_total",
			Help: "Thumbnails served from the cache."}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "filehub", Name: "thumbs_refused_total",
			Help: "Files refused a thumbnail, by reason (file_size, pixels, format, decode)."}, []string{"reason"}),
		EvictedBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "filehub", Name: "thumbs_evicted_bytes_total",
			Help: "Bytes of thumbnails evicted from the cache to keep it under its bound."}),
		CacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "filehub", Name: "thumbs_cache_bytes",
			Help: "Bytes of thumbnails in the cache now, as this process counts them."}),
		GenerateSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "filehub", Name: "thumbs_generate_seconds",
			Help:    "Time to make one thumbnail: read, decode, resize, encode.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}), // 1 ms to 16 s
	}
	if reg != nil {
		reg.MustRegister(m.Generated, m.CacheHits, m.Refused, m.EvictedBytes, m.CacheBytes, m.GenerateSeconds)
	}
	return m
}

// Maker makes and keeps the thumbnails of one Store. Its methods are safe
// for concurrent use; ServeHTTP (handler.go) is how it is used.
type Maker struct {
	store  *files.Store
	cfg    Config
	log    *slog.Logger
	m      *Metrics
	cache  *cache
	slots  chan struct{} // a token per thumbnail being made; len is how many
	flight singleflight.Group
	broken brokenSet
	hooks  testHooks
}

// testHooks let a test see inside a request; all nil outside tests.
type testHooks struct {
	waiting  func(key string)            // a request waits for a flight's result
	slotWait func(key string, err error) // a flight's wait for a slot ended
	decoding func(key string)            // a flight is about to decode
}

// New returns a Maker for store's images. It opens (or creates) the cache
// folder and reads what is in it.
func New(store *files.Store, cfg Config) (*Maker, error) {
	if cfg.MaxCacheBytes <= 0 {
		cfg.MaxCacheBytes = defaultMaxCacheBytes
		if cfg.Dir == "" {
			cfg.MaxCacheBytes = defaultMemoryCacheBytes
		}
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = defaultMaxPixels
	}
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = defaultMaxFileBytes
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = runtime.NumCPU()
	}
	if cfg.Quality <= 0 || cfg.Quality > 100 {
		cfg.Quality = defaultQuality
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = defaultMaxAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	c, err := openCache(cfg.Dir, cfg.MaxCacheBytes, cfg.Metrics, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &Maker{
		store: store,
		cfg:   cfg,
		log:   cfg.Logger,
		m:     cfg.Metrics,
		cache: c,
		slots: make(chan struct{}, cfg.Concurrency),
	}, nil
}

// Close releases the cache folder. Thumbnails made after it are served
// but not kept.
func (m *Maker) Close() error { return m.cache.close() }

// Config returns the configuration with defaults applied.
func (m *Maker) Config() Config { return m.cfg }

// ValidSize tells whether s is one of Sizes.
func ValidSize(s int) bool {
	for _, v := range Sizes {
		if s == v {
			return true
		}
	}
	return false
}

// ref is one thumbnail asked for: a file as it is now, at one size.
type ref struct {
	name string // clean slash path
	size int    // longest side
	info files.Info
	key  string // the cache's name for it: hex, from everything below
	etag string // quoted
}

// refOf describes the thumbnail of the file info at size.
func (m *Maker) refOf(info files.Info, size int) ref {
	h := sha256.New()
	// NUL cannot be in a name, so the fields cannot run into each other.
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d\x00%d\x00%s", info.Path, size, info.Size, info.Modified.UnixNano(), m.cfg.Quality, version)
	sum := h.Sum(nil)
	key := hex.EncodeToString(sum[:16])
	return ref{
		name: info.Path,
		size: size,
		info: info,
		key:  key,
		// The ETag names the thumbnail, not the file: the file's own ETag
		// must not validate a thumbnail in a cache, nor the reverse.
		etag: `"t` + version + "-" + strconv.Itoa(size) + "-" + key[:20] + `"`,
	}
}

// brokenSet remembers, in memory, thumbnails whose decode failed past the
// header (a truncated or corrupt file), so that a page asking again and
// again does not decode the same broken file each time. Bounded: when full
// it is emptied, and the worst that costs is one decode more per file.
type brokenSet struct {
	mu   sync.Mutex
	keys map[string]string // key → detail
}

const maxBroken = 4096

func (b *brokenSet) get(key string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.keys[key]
	return d, ok
}

func (b *brokenSet) add(key, detail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keys == nil || len(b.keys) >= maxBroken {
		b.keys = make(map[string]string)
	}
	b.keys[key] = detail
}
