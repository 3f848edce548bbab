package server

// The thumbnails' cache folder: where it is kept, and why never inside
// the served folder.

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"

	"filehub/files"
	"filehub/thumbs"

	"github.com/prometheus/client_golang/prometheus"
)

// thumbMaker makes the thumbnails of store, the served folder, kept in
// -thumb-cache, else in the user's cache folder ($XDG_CACHE_HOME/filehub,
// ~/.cache/filehub), in a folder per served folder ("thumbs-" and a hash
// of its path), so that servers of different folders never share keys
// or a bound. Never inside the served folder, where the thumbnails of
// hidden files would be listed and served: an explicit -thumb-cache
// there is refused, and a default one there (a server of the home folder)
// keeps them in memory, with a warning, as does having no home, or one
// where the default folder cannot be made.
func thumbMaker(o Config, folder string, store *files.Store, getenv func(string) string, reg prometheus.Registerer, log *slog.Logger) (*thumbs.Maker, error) {
	cfg := thumbs.Config{
		MaxCacheBytes: o.ThumbCacheSize, // 0: 256 MiB on disk, 32 MiB in memory
		Logger:        log.With("component", "thumbs"),
		Metrics:       thumbs.NewMetrics(reg),
	}
	memory := func(why string, args ...any) (*thumbs.Maker, error) {
		log.Warn("thumbnails are kept in memory and made again after a restart: "+why+"; set -thumb-cache", args...)
		return thumbs.New(store, cfg)
	}
	base := o.ThumbCache
	if base == "" {
		switch {
		case getenv("XDG_CACHE_HOME") != "":
			base = filepath.Join(getenv("XDG_CACHE_HOME"), "filehub")
		case getenv("HOME") != "":
			base = filepath.Join(getenv("HOME"), ".cache", "filehub")
		default:
			return memory("no home folder")
		}
	}
	abs, err := filepath.Abs(base)
	if err != nil {
		return nil, badUsage(false, "-thumb-cache %s: %w", base, err)
	}
	if within(folder, abs) {
		if o.ThumbCache != "" {
			return nil, badUsage(false, "-thumb-cache %s is inside the served folder %s, which would serve the thumbnails of hidden files; choose a folder outside it", base, folder)
		}
		return memory("the default cache folder is inside the served folder", "thumb_cache", abs)
	}
	// The folder of this served folder is made by the first thumbnail
	// kept; the one above it now, so that a home where it cannot be made
	// is found at start.
	if err := os.MkdirAll(abs, 0o700); err != nil {
		if o.ThumbCache == "" {
			// A home this user cannot write (HOME=/ under docker run
			// --user, a read-only system): not a reason to refuse to
			// serve; -thumb-cache, if given, is.
			return memory("the default cache folder cannot be made", "thumb_cache", abs, "err", rootCause(err))
		}
		return nil, badUsage(false, "-thumb-cache %s: %w", base, rootCause(err))
	}
	sum := sha256.Sum256([]byte(folder))
	cfg.Dir = filepath.Join(abs, "thumbs-"+hex.EncodeToString(sum[:8]))
	m, err := thumbs.New(store, cfg)
	if err != nil {
		return nil, badUsage(false, "-thumb-cache: %w", rootCause(err))
	}
	log.Debug("thumbnails kept in", "dir", cfg.Dir)
	return m, nil
}
