package files

// Changes other than uploads: making folders, removing and renaming, for
// doors that manage the folder (WebDAV). Each goes through the same checks
// as an upload: writes on, names Clean accepts, folders opened with
// openFolder (which refuses what resolves to a hidden name) and held open
// while the change is made in them.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// writable refuses a change when the Store takes no uploads.
func (s *Store) writable(op, name string) error {
	if !s.cfg.Uploads || s.cfg.ReadOnly {
		return fmt.Errorf("files: %s %q: uploads are off: %w", op, name, ErrForbidden)
	}
	return nil
}

// CheckPut tells whether Put(name, r, overwrite) would be refused before a
// byte is read (nil when it would go ahead), with the same error Put would
// give. It holds nothing: the answer may change before a Put.
func (s *Store) CheckPut(name string, overwrite bool) error {
	t, err := s.putTarget(name, overwrite)
	if err != nil {
		return err
	}
	t.dir.Close()
	return nil
}

// Mkdir makes the folder name, whose parent must exist (fs.ErrNotExist
// otherwise); an existing name, folder or file, is ErrExists. It needs
// uploads on, as Put does.
func (s *Store) Mkdir(name string) (Info, error) {
	if err := s.writable("mkdir", name); err != nil {
		return Info{}, err
	}
	p, err := s.Clean(name)
	if err != nil {
		return Info{}, err
	}
	if p == "." {
		return Info{}, fmt.Errorf("files: mkdir of the root folder: %w", ErrExists)
	}
	dir, err := s.openFolder(path.Dir(p))
	if err != nil {
		return Info{}, err
	}
	defer dir.Close()
	base := path.Base(p)
	if err := dir.Mkdir(base, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Info{}, fmt.Errorf("files: mkdir %q: %w", p, ErrExists)
		}
		return Info{}, s.fsErr("mkdir", p, err)
	}
	fi, err := dir.Lstat(base)
	if err != nil {
		return Info{}, s.fsErr("mkdir", p, err)
	}
	return s.info(p, fi), nil
}

// Remove removes the file or folder name; a symlink is removed itself,
// never what it leads to. A folder is removed with all it holds, but only
// when everything in it is something the Store shows: a folder holding a
// hidden name (a dotfile, an upload in progress), a FIFO, socket or device
// is refused whole with ErrForbidden, and nothing is removed, since its
// owner never saw those. (Something hidden created between that check and
// the removal goes with the folder.) The root folder is never removed. It
// needs uploads on, as Put does.
func (s *Store) Remove(name string) error {
	if err := s.writable("remove", name); err != nil {
		return err
	}
	p, err := s.Clean(name)
	if err != nil {
		return err
	}
	if p == "." {
		return fmt.Errorf("files: remove the root folder: %w", ErrForbidden)
	}
	dir, err := s.openFolder(path.Dir(p))
	if err != nil {
		return err
	}
	defer dir.Close()
	base := path.Base(p)
	fi, err := s.entry(dir, base, p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if err := s.checkTree(dir.Root, base, p, 0); err != nil {
			return err
		}
		if err := dir.RemoveAll(base); err != nil {
			return s.fsErr("remove", p, err)
		}
		return nil
	}
	if err := dir.Remove(base); err != nil {
		return s.fsErr("remove", p, err)
	}
	return nil
}

// Rename moves the file or folder from to the name to, which must not
// exist (ErrExists; a caller that replaces removes it first) and whose
// folder must (fs.ErrNotExist). A folder cannot move into itself
// (ErrBadPath). A symlink moves as itself. It needs uploads on.
//
// Within one folder the rename happens in the folder that was checked,
// held open. Across folders it goes by the paths the checks resolved,
// through the root: a link swapped in meanwhile cannot take it outside
// the folder, but could make it land somewhere else inside.
func (s *Store) Rename(from, to string) error {
	if err := s.writable("rename", from); err != nil {
		return err
	}
	pf, err := s.Clean(from)
	if err != nil {
		return err
	}
	pt, err := s.Clean(to)
	if err != nil {
		return err
	}
	switch {
	case pf == "." || pt == ".":
		return fmt.Errorf("files: rename %q to %q: the root folder: %w", pf, pt, ErrForbidden)
	case pf == pt:
		return nil
	case strings.HasPrefix(pt, pf+"/"):
		return fmt.Errorf("files: rename %q into itself, %q: %w", pf, pt, ErrBadPath)
	}
	df, err := s.openFolder(path.Dir(pf))
	if err != nil {
		return err
	}
	defer df.Close()
	dt, err := s.openFolder(path.Dir(pt))
	if err != nil {
		return err
	}
	defer dt.Close()
	bf, bt := path.Base(pf), path.Base(pt)
	if _, err := s.entry(df, bf, pf); err != nil {
		return err
	}
	if _, err := dt.Lstat(bt); err == nil {
		return fmt.Errorf("files: rename %q to %q: %w", pf, pt, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return s.fsErr("rename", pt, err)
	}
	if df.rel == dt.rel {
		err = df.Rename(bf, bt)
	} else {
		err = s.root.Rename(path.Join(df.rel, bf), path.Join(dt.rel, bt))
	}
	if err != nil {
		return s.fsErr("rename", pf, err)
	}
	return nil
}

// entry is the Lstat of base in dir (p is its clean path) when the Store
// shows it: a regular file, a folder, or a symlink that leads to one of
// those in the folder, not to a hidden name (a link to .env is .env).
// Anything else (a link out or broken, which List leaves out too) is
// fs.ErrNotExist.
func (s *Store) entry(dir *folder, base, p string) (fs.FileInfo, error) {
	fi, err := dir.Lstat(base)
	if err != nil {
		return nil, s.fsErr("stat", p, err)
	}
	switch typ := fi.Mode().Type(); {
	case typ&fs.ModeSymlink != 0:
		to, tfi, rerr := s.resolve(path.Join(dir.rel, base))
		switch {
		case rerr != nil:
			return nil, rerr
		case s.hiddenRel(to):
			return nil, fmt.Errorf("files: %q: %w", p, errHiddenTarget)
		case !tfi.IsDir() && !tfi.Mode().IsRegular():
			return nil, fmt.Errorf("files: %q: leads to no regular file: %w", p, fs.ErrNotExist)
		}
	case !typ.IsDir() && !typ.IsRegular():
		return nil, fmt.Errorf("files: %q: not a regular file: %w", p, fs.ErrNotExist)
	}
	return fi, nil
}

// maxTreeDepth bounds checkTree's recursion: deeper than any path Clean
// accepts (4096 bytes, two per element at least).
const maxTreeDepth = maxPath / 2

// checkTree checks that the folder base of parent (clean path p) holds
// only what the Store shows, all the way down, without following links.
func (s *Store) checkTree(parent *os.Root, base, p string, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("files: remove %q: too deep: %w", p, ErrForbidden)
	}
	sub, err := parent.OpenRoot(base)
	if err != nil {
		return s.fsErr("remove", p, err)
	}
	defer sub.Close()
	f, err := sub.OpenFile(".", os.O_RDONLY|oDirectory|oNonblock, 0)
	if err != nil {
		return s.fsErr("remove", p, err)
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return s.fsErr("remove", p, err)
	}
	for _, e := range ents {
		child := p + "/" + e.Name()
		if _, err := s.Clean(child); err != nil {
			return fmt.Errorf("files: remove %q: it holds a name that is not shown: %w", p, ErrForbidden)
		}
		switch typ := e.Type(); {
		case typ.IsDir():
			if err := s.checkTree(sub, e.Name(), child, depth+1); err != nil {
				return err
			}
		case typ.IsRegular(), typ&fs.ModeSymlink != 0:
		default:
			return fmt.Errorf("files: remove %q: it holds %q, not a regular file: %w", p, child, ErrForbidden)
		}
	}
	return nil
}

// RealPath returns where the name leads once its symlinks are resolved,
// as a clean path relative to the folder ("." for the folder itself), so
// that a caller can keep a door to part of the folder (a share link's
// folder) from reaching the rest through a link. A name that leads
// nowhere the Store shows is fs.ErrNotExist. It reads names, not open
// files: a link changed right after is not seen.
func (s *Store) RealPath(name string) (string, error) {
	p, err := s.Clean(name)
	if err != nil {
		return "", err
	}
	rel, _, err := s.resolve(p)
	if err != nil {
		return "", err
	}
	if s.hiddenRel(rel) {
		return "", fmt.Errorf("files: %q: %w", p, errHiddenTarget)
	}
	return rel, nil
}
