package server

// The drop links' state file on a single node: where it is kept, and
// why never inside the served folder.

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"filehub/drops"
)

// dropState opens the state file of the drop links of folder: in
// -state-dir, else in the user's state folder ($XDG_STATE_HOME/filehub,
// ~/.local/state/filehub), one file per served folder. The file holds the
// links' ids, each a key, so it is never inside the served folder, where
// some configuration (-show-hidden) could serve it: an explicit -state-dir
// there is refused, and a default one there (a server of the home folder)
// leaves the links in memory, with a warning, as does having no home, or
// one where the default folder cannot be made.
func dropState(o Config, folder string, getenv func(string) string, log *slog.Logger) (drops.Keeper, error) {
	dir := o.StateDir
	if dir == "" {
		switch {
		case getenv("XDG_STATE_HOME") != "":
			dir = filepath.Join(getenv("XDG_STATE_HOME"), "filehub")
		case getenv("HOME") != "":
			dir = filepath.Join(getenv("HOME"), ".local", "state", "filehub")
		default:
			log.Warn("drop links are kept in memory and do not survive a restart: no home folder; set -state-dir")
			return drops.Memory(), nil
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, badUsage(false, "-state-dir %s: %w", dir, err)
	}
	if within(folder, abs) {
		if o.StateDir != "" {
			return nil, badUsage(false, "-state-dir %s is inside the served folder %s, which would serve the drop links' keys; choose a folder outside it", dir, folder)
		}
		log.Warn("drop links are kept in memory and do not survive a restart: the default state folder is inside the served folder; set -state-dir",
			"state_dir", abs)
		return drops.Memory(), nil
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		if o.StateDir == "" {
			// A home this user cannot write: HOME=/ under docker run
			// --user or a systemd DynamicUser, a read-only system. Not a
			// reason to refuse to serve; -state-dir, if given, is.
			log.Warn("drop links are kept in memory and do not survive a restart: the default state folder cannot be made; set -state-dir",
				"state_dir", abs, "err", rootCause(err))
			return drops.Memory(), nil
		}
		return nil, badUsage(false, "-state-dir %s: %w", dir, rootCause(err))
	}
	sum := sha256.Sum256([]byte(folder))
	file := filepath.Join(abs, "drops-"+hex.EncodeToString(sum[:8])+".json")
	k, err := drops.OpenFile(file)
	if err != nil {
		return nil, badUsage(false, "-state-dir: %w", err)
	}
	log.Debug("drop links kept in", "file", file)
	return k, nil
}

// within tells whether dir is folder or inside it, with the symlinks of
// the part of each that exists resolved.
func within(folder, dir string) bool {
	folder, dir = realPath(folder), realPath(dir)
	rel, err := filepath.Rel(folder, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// realPath resolves the symlinks of the longest part of the absolute path
// p that exists, and keeps the rest as it is.
func realPath(p string) string {
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
