package files

// A resumable upload on disk.
//
// A partial's bytes and its state live side by side in the destination
// folder:
//
//	.filehub-tmp-ID.part    the bytes received so far
//	.filehub-tmp-ID.state   JSON: path, offset, total, the SHA-256 state of
//	                        those bytes, when a piece last ended
//
// ID is the hex SHA-256 of the clean path and the upload's key. The key is
// the capability to go on with an upload and is written nowhere, so an
// upload's files cannot be found from its path alone. Both names have the
// temp prefix: never listed, served, zipped or overwritten.
//
// The state is written atomically (a temp file renamed over it) whenever a
// piece ends or is cut, after the bytes it counts were synced, so that the
// same process after a restart, or another process serving the folder (a
// node behind the same load balancer, on a shared volume), goes on from
// exactly there. Bytes past the state's offset, from a piece a crash cut
// short, are cut off when the upload goes on.
//
// A request writing a partial holds an exclusive flock(2) on its .part
// file, so a second process (or a second Store of this one) answers 503
// rather than writing it at the same time, and the kernel drops the lock if
// the process dies. Within one process, the registry (resume.go) first
// lets a newer request take an upload over from an older one. Whatever
// removes a partial's files (eviction, expiry, the sweep) takes the lock
// first: it never removes an upload being received elsewhere.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

const (
	partSuffix  = ".part"
	stateSuffix = ".state"

	// stateVersion is written into every state file; another version is
	// not trusted (the upload starts over), so the format can change.
	stateVersion = 1

	// maxState bounds a state file: a 4096-byte path and the rest.
	maxState = 16 << 10

	// partTries bounds how often openPart starts again when a partial's
	// file changes under it (another process finishing or dropping it).
	partTries = 4
)

var (
	// errLocked is lockFile's answer when another open file holds the lock.
	errLocked = errors.New("locked by another request or process")
	// errNoPart is openPart's answer when nothing is held and nothing is to
	// be created.
	errNoPart = errors.New("no partial upload")
	// errBadState is a state file that cannot be trusted: unreadable,
	// another version, or not agreeing with its name or its bytes.
	errBadState = errors.New("unusable resumable upload state")
	// errNotRegular is a partial's name that is not a regular file: a FIFO
	// or a symlink someone with access to the folder put there.
	errNotRegular = fmt.Errorf("not a regular file: %w", fs.ErrNotExist)
)

// partID names the resumable upload key of the clean path p.
func partID(p, key string) string {
	h := sha256.New()
	io.WriteString(h, "filehub resumable upload\x00")
	io.WriteString(h, p)
	io.WriteString(h, "\x00")
	io.WriteString(h, key)
	return hex.EncodeToString(h.Sum(nil))
}

func partName(id string) string  { return tempPrefix + id + partSuffix }
func stateName(id string) string { return tempPrefix + id + stateSuffix }

// isPart reports whether name is one of a partial's files.
func isPart(name string) bool {
	_, _, ok := partOf(name)
	return ok
}

// partOf returns the id of a partial's file name and its suffix, or false
// when name is not one.
func partOf(name string) (id, suffix string, ok bool) {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	if !ok {
		return "", "", false
	}
	switch {
	case strings.HasSuffix(rest, partSuffix):
		suffix = partSuffix
	case strings.HasSuffix(rest, stateSuffix):
		suffix = stateSuffix
	default:
		return "", "", false
	}
	id = strings.TrimSuffix(rest, suffix)
	if len(id) != 2*sha256.Size || strings.Trim(id, "0123456789abcdef") != "" {
		return "", "", false
	}
	return id, suffix, true
}

// partState is what a state file holds.
type partState struct {
	Version int       `json:"v"`
	ID      string    `json:"id"`      // partID(path, key): stands for the key
	Path    string    `json:"path"`    // the clean destination path
	Offset  int64     `json:"offset"`  // bytes held, and hashed
	Total   int64     `json:"total"`   // the whole file's size, -1 until a request states it
	SHA256  []byte    `json:"sha256"`  // the hash of the bytes held, from sha256's MarshalBinary
	Touched time.Time `json:"touched"` // when a piece last ended or was cut
}

// hash returns the SHA-256 of the bytes held, ready to go on.
func (st *partState) hash() (hash.Hash, error) {
	h := sha256.New()
	if len(st.SHA256) == 0 && st.Offset == 0 {
		return h, nil
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.SHA256); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadState, err)
	}
	return h, nil
}

// expired reports whether the partial has waited longer than ttl.
func (st *partState) expired(ttl time.Duration) bool {
	return !st.Touched.Add(ttl).After(time.Now())
}

// readState reads the state of partial id in the folder dir of r;
// fs.ErrNotExist when there is none, errBadState when it cannot be trusted.
// It opens without ever blocking and reads at most maxState bytes, whatever
// someone put under the name.
func readState(r *os.Root, dir, id string) (partState, error) {
	var st partState
	f, err := r.OpenFile(path.Join(dir, stateName(id)), os.O_RDONLY|oNonblock|oNoctty, 0)
	if err != nil {
		return st, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > maxState {
		return st, fmt.Errorf("%w: not a small regular file (%v)", errBadState, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxState))
	if err != nil {
		return st, fmt.Errorf("%w: %w", errBadState, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%w: %w", errBadState, err)
	}
	if st.Version != stateVersion || st.ID != id || st.Offset < 0 || st.Total < -1 ||
		(st.Total >= 0 && st.Offset > st.Total) {
		return st, fmt.Errorf("%w: version %d, id %q, offset %d of %d", errBadState, st.Version, st.ID, st.Offset, st.Total)
	}
	if _, err := st.hash(); err != nil {
		return st, err
	}
	return st, nil
}

// writeState writes st into the folder of r, atomically: a reader, in this
// process or another, sees the old state or the new one, whole.
func writeState(r *os.Root, st *partState) (err error) {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	tmp := tempPrefix + rand.Text()
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer func() {
		if err != nil {
			r.Remove(tmp)
		}
	}()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, stateName(st.ID))
	}
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// lockedPart is a partial's .part file, open and locked by one request.
type lockedPart struct {
	f     *os.File
	found bool      // st is a usable state of the bytes in f
	st    partState // when found
}

// openPart opens and locks the .part file of partial id in dir (p is its
// clean destination path), creating it when there is none and create is
// set, and reads its state. errNoPart: none, and create is not set. ErrBusy:
// another request or process is receiving it.
func (s *Store) openPart(dir *folder, id, p string, create bool) (*lockedPart, error) {
	name := partName(id)
	for try := 0; try < partTries; try++ {
		f, err := dir.OpenFile(name, os.O_RDWR|oNonblock|oNoctty, 0)
		if errors.Is(err, fs.ErrNotExist) {
			if !create {
				return nil, errNoPart
			}
			f, err = dir.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, fs.ErrExist) {
				continue // another process created it first: open that one
			}
		}
		if err != nil {
			return nil, s.fsErr("put", p, err)
		}
		if err := lockFile(f); err != nil {
			f.Close()
			if errors.Is(err, errLocked) {
				return nil, fmt.Errorf("files: put %q: being received by another request or process: %w", p, ErrBusy)
			}
			return nil, fmt.Errorf("files: put %q: %w", p, err)
		}
		// Locked. The name may no longer lead to this file (another process
		// finished the upload, or dropped it, between the open and the
		// lock), or may never have been a file of ours (a FIFO, a symlink):
		// start again, removing an impostor (unlinking neither follows nor
		// blocks).
		if err := sameRegular(dir.Root, name, f); err != nil {
			f.Close()
			if errors.Is(err, errNotRegular) {
				s.log.Warn("files: removing a non-file named like a partial upload", "path", path.Join(dir.rel, name))
				dir.Remove(name)
			}
			continue
		}
		lp := &lockedPart{f: f}
		st, err := readState(dir.Root, ".", id)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			s.log.Warn("files: resumable upload starts over", "path", p, "err", err)
		case st.Path != p || st.expired(s.cfg.PartialTTL):
		default:
			if fi, err := f.Stat(); err == nil && fi.Size() >= st.Offset {
				lp.found, lp.st = true, st
			} else {
				s.log.Warn("files: resumable upload lost bytes, starts over", "path", p, "held", st.Offset)
			}
		}
		return lp, nil
	}
	return nil, fmt.Errorf("files: put %q: its partial keeps changing: %w", p, ErrBusy)
}

// savePart records, after a piece, what lp holds: the bytes synced first,
// then the state that counts them.
func (s *Store) savePart(dir *folder, lp *lockedPart, st *partState, h hash.Hash) error {
	if err := lp.f.Sync(); err != nil {
		return fmt.Errorf("files: put %q: sync: %w", st.Path, err)
	}
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("files: put %q: %w", st.Path, err)
	}
	st.SHA256, st.Touched = b, time.Now().UTC()
	if err := writeState(dir.Root, st); err != nil {
		return fmt.Errorf("files: put %q: %w", st.Path, err)
	}
	return nil
}

// removePart removes the files of the partial id in dir, whose lock the
// caller holds: the state first, so that no state ever counts bytes that
// are gone.
func (s *Store) removePart(dir *folder, id string) {
	for _, name := range []string{stateName(id), partName(id)} {
		if err := dir.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("files: removing a partial upload", "path", path.Join(dir.rel, name), "err", err)
		}
	}
}

// discardPart removes the files of the partial id in the folder dir (a
// path relative to the Store's folder), unless a request is receiving it
// (the lock is taken) or, when before is not zero, its state says it was
// touched after before (another process went on with it): it then returns
// false and that time.
func (s *Store) discardPart(dir, id string, before time.Time) (removed bool, touched time.Time) {
	data, state := path.Join(dir, partName(id)), path.Join(dir, stateName(id))
	f, err := s.root.OpenFile(data, os.O_RDWR|oNonblock|oNoctty, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// A state whose bytes are gone: nothing to lock, nothing to resume.
		if err := s.root.Remove(state); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("files: removing a partial upload", "path", state, "err", err)
		}
		return true, time.Time{}
	}
	if err != nil {
		s.log.Warn("files: dropping a partial upload", "path", data, "err", err)
		return false, time.Time{}
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return false, time.Time{} // being received: whoever holds it decides
	}
	if err := sameRegular(s.root, data, f); err != nil {
		return false, time.Time{} // changed meanwhile: the next sweep decides
	}
	if !before.IsZero() {
		if st, err := readState(s.root, dir, id); err == nil && st.Touched.After(before) {
			return false, st.Touched
		}
	}
	for _, name := range []string{state, data} {
		if err := s.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("files: removing a partial upload", "path", name, "err", err)
		}
	}
	return true, time.Time{}
}

// sameRegular checks that f, just opened as name in r, is a regular file
// and the very file name is now, not one a symlink under that name led to,
// nor one that replaced it since: temp files are known by name to anyone
// who can list the folder. errNotRegular: name is something else.
func sameRegular(r *os.Root, name string, f *os.File) error {
	there, err := r.Lstat(name)
	if err != nil {
		return err
	}
	if !there.Mode().IsRegular() {
		return errNotRegular
	}
	got, err := f.Stat()
	if err != nil {
		return err
	}
	if !got.Mode().IsRegular() {
		return errNotRegular
	}
	if !os.SameFile(got, there) {
		return fmt.Errorf("%s was replaced: %w", name, fs.ErrNotExist)
	}
	return nil
}

// sweepPart is the sweep (store.go) of one of a partial's files, name in
// the folder dir: a state is loaded into the registry, or its partial
// removed when it waited PartialTTL; a .part file without a state (its
// first piece cut by a crash) is removed after PartialTTL.
func (s *Store) sweepPart(dir, name string, e fs.DirEntry, now time.Time) {
	id, suffix, _ := partOf(name)
	if suffix == partSuffix {
		if _, err := s.root.Lstat(path.Join(dir, stateName(id))); err == nil {
			return // its state decides
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) >= s.cfg.PartialTTL {
			s.discardPart(dir, id, time.Time{})
		}
		return
	}
	st, err := readState(s.root, dir, id)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return // gone meanwhile
	case err != nil:
		if fi, ferr := e.Info(); ferr == nil && now.Sub(fi.ModTime()) >= s.cfg.PartialTTL {
			s.log.Debug("files: sweep: dropping a partial upload", "path", path.Join(dir, name), "err", err)
			s.discardPart(dir, id, time.Time{})
		}
		return
	case st.expired(s.cfg.PartialTTL):
		s.discardPart(dir, id, st.Touched)
		return
	}
	ps := &s.parts
	ps.mu.Lock()
	if ps.m[id] == nil {
		ps.m[id] = &partial{id: id, path: st.Path, dir: dir, held: st.Offset, touched: st.Touched}
	}
	ps.mu.Unlock()
}
