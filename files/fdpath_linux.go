package files

import (
	"fmt"
	"os"
	"strconv"
)

// openProcFD opens /proc/self/fd, where each open file descriptor of the
// process is a link to the path the kernel knows that file by. It returns
// nil when /proc is not mounted (a bare container): the Store then checks
// what it opened the portable way (checkOpenedByName).
func openProcFD() *os.Root {
	r, err := os.OpenRoot("/proc/self/fd")
	if err != nil {
		return nil
	}
	if _, err := r.Lstat("0"); err != nil { // mounted, but not procfs
		r.Close()
		return nil
	}
	return r
}

// fdPath returns the absolute path of the open file f as the kernel knows
// it, every symlink resolved, whatever name it was opened by: one
// readlinkat(2), about the cost of an fstat(2) and a half.
func (s *Store) fdPath(f *os.File) (string, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return "", fmt.Errorf("fd path: %w", err)
	}
	var link string
	var lerr error
	if err := sc.Control(func(fd uintptr) {
		link, lerr = s.proc.Readlink(strconv.FormatUint(uint64(fd), 10))
	}); err != nil {
		return "", fmt.Errorf("fd path: %w", err)
	}
	if lerr != nil {
		return "", fmt.Errorf("fd path: %w", lerr)
	}
	return link, nil
}

// pinFolder returns a Root on exactly the folder f is open on. Opening
// f's /proc/self/fd link reopens the open file itself, not a path that a
// swapped symlink could redirect since f was checked.
func (s *Store) pinFolder(f *os.File) (*os.Root, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("pin folder: %w", err)
	}
	var r *os.Root
	var oerr error
	if err := sc.Control(func(fd uintptr) {
		r, oerr = os.OpenRoot("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
	}); err != nil {
		return nil, fmt.Errorf("pin folder: %w", err)
	}
	if oerr != nil {
		return nil, fmt.Errorf("pin folder: %w", oerr)
	}
	return r, nil
}
