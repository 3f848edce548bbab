package files

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// The fast path of every read: one openat2(2) (Linux 5.6) of the whole
// path below the folder's own descriptor, refusing any symlink on the way
// (RESOLVE_NO_SYMLINKS) and anything outside the folder (RESOLVE_BENEATH,
// enforced by the kernel, as os.Root enforces it in user space). When it
// succeeds, what was opened is exactly the name Clean accepted: no link
// can have led elsewhere, so there is nothing more to check. It is also
// cheaper than os.Root, which opens and closes every folder on the way.
// A path with a link on the way (ELOOP) takes the slow path: through the
// root, then the check of what was opened (resolve.go).

const (
	sysOpenat2 = 437 // the same number on every architecture (new calls are numbered alike since 5.1)

	resolveNoMagiclinks = 0x02
	resolveNoSymlinks   = 0x04
	resolveBeneath      = 0x08
)

// openHow is struct open_how of <linux/openat2.h>.
type openHow struct {
	flags, mode, resolve uint64
}

// errLinks is openNoLinks's answer for a path with a symlink on the way.
var errLinks = errors.New("a symlink on the way")

// errNoFastPath is openNoLinks's answer where openat2(2) cannot be used.
var errNoFastPath = errors.New("no openat2")

// openat2 opens name below the folder dirfd as how says.
func openat2(dirfd int, name string, how *openHow) (int, error) {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return -1, err
	}
	for {
		fd, _, e := syscall.Syscall6(sysOpenat2, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
			uintptr(unsafe.Pointer(how)), unsafe.Sizeof(*how), 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	}
}

// initFastPath turns the fast path on when the kernel has openat2(2) and
// lets this process use it (a seccomp filter may answer EPERM or ENOSYS).
func (s *Store) initFastPath() {
	f, err := s.openNoLinksAt(".", os.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		s.log.Debug("files: no openat2, every open goes through os.Root", "err", err)
		return
	}
	f.Close()
	s.fast = true
}

// openNoLinks opens the clean path p below the folder if no symlink is on
// the way, with flag (O_CLOEXEC is added). It fails with errLinks when
// there is one, errNoFastPath when the fast path is off, and otherwise with
// the error opening p through the root would give.
func (s *Store) openNoLinks(p string, flag int) (*os.File, error) {
	if !s.fast {
		return nil, errNoFastPath
	}
	return s.openNoLinksAt(p, flag)
}

func (s *Store) openNoLinksAt(p string, flag int) (*os.File, error) {
	sc, err := s.top.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoFastPath, err)
	}
	how := openHow{flags: uint64(flag | syscall.O_CLOEXEC), resolve: resolveBeneath | resolveNoSymlinks | resolveNoMagiclinks}
	var fd int
	var oerr error
	// Control holds the folder's descriptor open for the call: a Close of
	// the Store meanwhile cannot hand its number to another file.
	if err := sc.Control(func(dirfd uintptr) { fd, oerr = openat2(int(dirfd), p, &how) }); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoFastPath, err)
	}
	switch {
	case oerr == nil:
		return os.NewFile(uintptr(fd), s.root.Name()+"/"+p), nil
	case errors.Is(oerr, syscall.ELOOP):
		return nil, errLinks
	case errors.Is(oerr, syscall.ENOSYS), errors.Is(oerr, syscall.E2BIG):
		return nil, fmt.Errorf("%w: %w", errNoFastPath, oerr)
	}
	return nil, &os.PathError{Op: "openat2", Path: p, Err: oerr}
}
