package files

// What a path resolves to.
//
// Clean judges a name as it was spelled, and the root keeps every access
// inside the folder, but a symlink inside the folder can still lead to a
// dotfile or a temp file: "cfg -> .git/config", "git -> .git". A link to
// .git is .git, so every access also checks what it reached.
//
// The check looks at what was actually opened, rather than resolving the
// name and then opening it, which would leave a window for a link swapped
// in between: on Linux, the kernel's own name for the open file (its
// /proc/self/fd link) must lie in the folder with no hidden element below
// it. That is one readlinkat(2) per open; a path without links reads back
// as itself and needs nothing more. Without /proc, the name's links are
// resolved one by one through the root (resolve), the result is checked,
// and the open file must be the file found there (os.SameFile), which a
// swapped link cannot fake.
//
// Writes go through a Root pinned to the checked destination folder
// (openFolder), so the temp file, the rename and the link of an upload all
// happen in the folder that was checked, whatever links change meanwhile.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// maxLinks is how many symlinks resolve follows before giving up: os.Root's
// own limit, so that resolve and the root agree on what exists.
const maxLinks = 8

// errHiddenTarget is why a path whose spelling Clean accepted is refused: it
// resolves to a hidden or temp file. It wraps fs.ErrNotExist, like every
// hidden name, so that probing cannot tell it from a missing file.
var errHiddenTarget = fmt.Errorf("resolves to a hidden name: %w", fs.ErrNotExist)

// hiddenRel reports whether a slash path relative to the folder has an
// element the Store does not serve ("." is the folder itself).
func (s *Store) hiddenRel(rel string) bool {
	if rel == "." {
		return false
	}
	for elem := range strings.SplitSeq(rel, "/") {
		if s.hidden(elem) {
			return true
		}
	}
	return false
}

// checkOpened checks the file f, opened through the root by the clean path
// p, and returns its path relative to the folder once links are resolved.
// It fails with fs.ErrNotExist when that path has a hidden element, or
// when f is not in the folder after all.
func (s *Store) checkOpened(f *os.File, p string) (string, error) {
	if s.proc == nil {
		return s.checkOpenedByName(f, p)
	}
	link, err := s.fdPath(f)
	if err != nil {
		return "", fmt.Errorf("files: %q: %w", p, err)
	}
	for retried := false; ; retried = true {
		top := *s.rootPath.Load()
		if rel, ok := relTo(top, link); ok {
			if rel == p { // no link on the way, or links that changed nothing
				return p, nil
			}
			if s.hiddenRel(rel) {
				return "", fmt.Errorf("files: %q: %w", p, errHiddenTarget)
			}
			return rel, nil
		}
		if retried {
			return "", fmt.Errorf("files: %q is open as %q, outside %q: %w", p, link, top, fs.ErrNotExist)
		}
		// The folder may have been moved since its path was read: read it
		// again from the folder's own open file, once.
		if err := s.readRootPath(); err != nil {
			return "", err
		}
	}
}

// relTo returns abs relative to the folder top (an absolute path without
// trailing slash, "" for "/"): "." for top itself, false when abs is not
// below top.
func relTo(top, abs string) (string, bool) {
	rest, ok := strings.CutPrefix(abs, top)
	switch {
	case !ok:
		return "", false
	case rest == "" || rest == "/":
		return ".", true
	case rest[0] != '/':
		return "", false // "/srv/files2" is not below "/srv/files"
	}
	return rest[1:], true
}

// readRootPath reads the folder's absolute path from its open file, to
// which checkOpened compares the paths of the files it opens.
func (s *Store) readRootPath() error {
	link, err := s.fdPath(s.top)
	if err != nil {
		return fmt.Errorf("files: the folder's path: %w", err)
	}
	link = strings.TrimSuffix(link, "/") // "/" becomes "", so that top+"/"+p holds
	s.rootPath.Store(&link)
	return nil
}

// checkOpenedByName is checkOpened without /proc: p's links are resolved
// through the root, the result checked, and f must be the file found there.
func (s *Store) checkOpenedByName(f *os.File, p string) (string, error) {
	rel, want, err := s.resolve(p)
	if err != nil {
		return "", err
	}
	if s.hiddenRel(rel) {
		return "", fmt.Errorf("files: %q: %w", p, errHiddenTarget)
	}
	got, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("files: stat %q: %w", p, err)
	}
	if !os.SameFile(got, want) {
		return "", fmt.Errorf("files: %q changed while it was opened: %w", p, fs.ErrNotExist)
	}
	return rel, nil
}

// resolve follows the links of the clean path p through the root the way
// the root does (an absolute link, or one that climbs out of the folder,
// leads nowhere; at most maxLinks links) and returns the path it leads to,
// relative to the folder and free of links, with that file's Lstat.
//
// It reads names, not open files, and a link may change right after:
// callers use it to judge what a listing shows, or compare the file they
// opened with the one it found (checkOpenedByName).
func (s *Store) resolve(p string) (string, fs.FileInfo, error) {
	var (
		done  []string // elements resolved so far, none of them a link
		rest  = p
		links int
		fi    fs.FileInfo // of done, when known
	)
	for rest != "" {
		elem, after, slash := strings.Cut(rest, "/")
		rest = after
		switch elem {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", nil, fmt.Errorf("files: resolve %q: leaves the folder: %w", p, fs.ErrNotExist)
			}
			done, fi = done[:len(done)-1], nil
			continue
		}
		next := strings.Join(append(done[:len(done):len(done)], elem), "/")
		var err error
		if fi, err = s.root.Lstat(next); err != nil {
			return "", nil, s.fsErr("resolve", p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if slash && !fi.IsDir() { // "file/…": ENOTDIR
				return "", nil, fmt.Errorf("files: resolve %q: %q is not a folder: %w", p, next, fs.ErrNotExist)
			}
			done = append(done, elem)
			continue
		}
		if links++; links > maxLinks {
			return "", nil, fmt.Errorf("files: resolve %q: more than %d links: %w", p, maxLinks, fs.ErrNotExist)
		}
		target, err := s.root.Readlink(next)
		if err != nil {
			return "", nil, s.fsErr("resolve", p, err)
		}
		if target == "" || strings.HasPrefix(target, "/") {
			return "", nil, fmt.Errorf("files: resolve %q: link %q is absolute or empty: %w", p, next, fs.ErrNotExist)
		}
		if slash {
			target += "/"
		}
		rest, fi = target+rest, nil
	}
	rel := path.Join(done...)
	if rel == "" {
		rel = "."
	}
	if fi == nil { // ended on ".." or on the folder itself
		var err error
		if fi, err = s.root.Lstat(rel); err != nil {
			return "", nil, s.fsErr("resolve", p, err)
		}
	}
	return rel, fi, nil
}

// folder is an upload's destination folder, checked and held open.
type folder struct {
	*os.Root        // pinned to the folder that was checked
	rel      string // its path relative to the Store's folder, links resolved; "." for the top
}

// openFolder opens the folder p (a clean path) to write into it: it must
// resolve to a folder with no hidden element (an upload never writes into
// .git, whatever link leads there), and the Root returned stays on the
// folder that was checked. Opening never blocks: O_DIRECTORY refuses a
// FIFO at once.
func (s *Store) openFolder(p string) (*folder, error) {
	f, slow, err := s.open(p, os.O_RDONLY|oDirectory|oNonblock)
	if err != nil {
		return nil, s.fsErr("open folder", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, s.fsErr("open folder", p, err)
	}
	if !fi.IsDir() { // where there is no O_DIRECTORY
		return nil, fmt.Errorf("files: open folder %q: not a folder: %w", p, fs.ErrNotExist)
	}
	rel := p
	if slow {
		if rel, err = s.checkOpened(f, p); err != nil {
			return nil, err
		}
	}
	if s.proc != nil {
		if r, err := s.pinFolder(f); err == nil {
			return &folder{Root: r, rel: rel}, nil
		}
		// A sandbox may refuse to reopen through /proc: by name, then.
	}
	r, err := s.root.OpenRoot(rel)
	if err != nil {
		return nil, s.fsErr("open folder", p, err)
	}
	if again, err := r.Stat("."); err != nil || !os.SameFile(fi, again) {
		r.Close()
		return nil, fmt.Errorf("files: open folder %q: changed while it was opened: %w", p, errors.Join(fs.ErrNotExist, err))
	}
	return &folder{Root: r, rel: rel}, nil
}
