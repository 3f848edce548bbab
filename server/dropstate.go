package server

// The state files of a single node (the drop and share links, the rooms'
// history): where they are kept, and why never inside the served folder.

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
	return stateKeeper(o, folder, getenv, log, "drop links", "drops")
}

// shareState is dropState for the share links (package links): their own
// file beside the drop links', "links-….json", by the same rules.
func shareState(o Config, folder string, getenv func(string) string, log *slog.Logger) (drops.Keeper, error) {
	return stateKeeper(o, folder, getenv, log, "share links", "links")
}

// stateKeeper opens the state file of what (its name in messages) for
// folder, prefix-HASH.json, in the state folder (see stateFile); without
// one, they are kept in memory.
func stateKeeper(o Config, folder string, getenv func(string) string, log *slog.Logger, what, prefix string) (drops.Keeper, error) {
	file, err := stateFile(o, folder, getenv, log, prefix, ".json", what)
	if err != nil {
		return nil, err
	}
	if file == "" {
		return drops.Memory(), nil
	}
	k, err := drops.OpenFile(file)
	if err != nil {
		return nil, badUsage(false, "-state-dir: %w", err)
	}
	log.Debug(what+" kept in", "file", file)
	return k, nil
}

// stateFile names the file, prefix-HASH.ext, in which what (drop links,
// room history) of folder is kept: in -state-dir, else in the user's state
// folder ($XDG_STATE_HOME/filehub, ~/.local/state/filehub), one file per
// served folder. Such files hold what the server must not serve (drop
// links' ids are keys; the history holds what rooms said), so they are
// never inside the served folder, where some configuration (-show-hidden)
// could serve them: an explicit -state-dir there is refused, and a default
// one there (a server of the home folder) gives "" (kept in memory), with
// a warning, as does having no home, or one where the default folder
// cannot be made.
func stateFile(o Config, folder string, getenv func(string) string, log *slog.Logger, prefix, ext, what string) (string, error) {
	dir := o.StateDir
	if dir == "" {
		switch {
		case getenv("XDG_STATE_HOME") != "":
			dir = filepath.Join(getenv("XDG_STATE_HOME"), "filehub")
		case getenv("HOME") != "":
			dir = filepath.Join(getenv("HOME"), ".local", "state", "filehub")
		default:
			log.Warn(what + " are kept in memory and do not survive a restart: no home folder; set -state-dir")
			return "", nil
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", badUsage(false, "-state-dir %s: %w", dir, err)
	}
	if within(folder, abs) {
		if o.StateDir != "" {
			return "", badUsage(false, "-state-dir %s is inside the served folder %s, which would serve the %s; choose a folder outside it", dir, folder, what)
		}
		log.Warn(what+" are kept in memory and do not survive a restart: the default state folder is inside the served folder; set -state-dir",
			"state_dir", abs)
		return "", nil
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		if o.StateDir == "" {
			// A home this user cannot write: HOME=/ under docker run
			// --user or a systemd DynamicUser, a read-only system. Not a
			// reason to refuse to serve; -state-dir, if given, is.
			log.Warn(what+" are kept in memory and do not survive a restart: the default state folder cannot be made; set -state-dir",
				"state_dir", abs, "err", rootCause(err))
			return "", nil
		}
		return "", badUsage(false, "-state-dir %s: %w", dir, rootCause(err))
	}
	sum := sha256.Sum256([]byte(folder))
	return filepath.Join(abs, prefix+"-"+hex.EncodeToString(sum[:8])+ext), nil
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
